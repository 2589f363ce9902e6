import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { asIoError } from '../core/errors.js';
import { removeOwn } from './remove.js';

/**
 * Write to a temporary sibling then rename, so readers never see a half-written file. A failed
 * write removes its temporary file and names the file it was writing.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    removeOwn(tmp);
    throw asIoError(e, file);
  }
}
