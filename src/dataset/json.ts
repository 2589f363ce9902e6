import { readFileSync } from 'node:fs';
import { TrajforgeError } from '../core/errors.js';

/** A JSON file of a dataset; unreadable or invalid is the dataset's problem (E_DATASET_INVALID), named by file. */
export function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
}
