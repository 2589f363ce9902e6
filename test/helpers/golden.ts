import { fileURLToPath } from 'node:url';
import { listEnvironments, loadEnv } from '../../src/config/load.js';
import type { ResolvedEnv } from '../../src/config/parse.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
export const GOLDEN_SEED = 3;
export const GOLDEN_STEP = 8;

/** One golden image per camera of every shipped environment. */
export function goldenCases(): { resolved: ResolvedEnv; camera: string; file: string }[] {
  return listEnvironments().flatMap((e) => {
    const resolved = loadEnv(e.file);
    return resolved.config.cameras.map((c) => ({ resolved, camera: c.name, file: `${resolved.config.id}.${c.name}.png` }));
  });
}
