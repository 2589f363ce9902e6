/**
 * A model directory on disk: model.json + one ONNX file per part, written atomically (temp
 * files, then renames; the card last, so a directory with a card is always complete).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { parseModelCard, type ModelCard } from './card.js';
import { PART_NAMES, type PartName } from './export.js';

export const CARD_FILE = 'model.json';

export function saveModel(dir: string, card: ModelCard, parts: Record<PartName, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const p of PART_NAMES) writeFileAtomic(join(dir, card.parts[p].file), parts[p]);
  writeFileAtomic(join(dir, CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
}

export function readModelCard(dir: string): ModelCard {
  const file = join(dir, CARD_FILE);
  if (!existsSync(file)) throw new TrajforgeError('E_USAGE', `${dir}: no ${CARD_FILE} (not a trajforge model directory; create one with trajforge train)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${file}: invalid JSON: ${(e as Error).message}`, { file });
  }
  return parseModelCard(json, file);
}

export function readModelParts(dir: string, card: ModelCard): Record<PartName, Uint8Array> {
  const out = {} as Record<PartName, Uint8Array>;
  for (const p of PART_NAMES) {
    const file = join(dir, card.parts[p].file);
    if (!existsSync(file)) throw new TrajforgeError('E_MODEL_SHAPE', `${dir}: ${card.parts[p].file} is missing`, { file });
    out[p] = new Uint8Array(readFileSync(file));
  }
  return out;
}
