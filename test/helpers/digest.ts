/** Content digests of a written dataset: what "byte-identical output" is checked against. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { H5 } from './readers.js';

/**
 * The ownership marker carries the time the folder was opened; every other file a run writes must
 * depend only on the options.
 */
const TIME_STAMPED = new Set(['.trajforge-output.json']);

/**
 * HDF5 object headers carry modification times, so an HDF5 file is digested by what jsfive reads
 * from it: every group's attributes and every dataset's path, dtype, shape and values.
 */
function hdf5Digest(file: string): string {
  const h5 = new H5(file);
  const hash = createHash('sha256');
  const visit = (path: string) => {
    const g = h5.group(path);
    hash.update(`${path}|${JSON.stringify(g.attrs)}\n`);
    for (const k of [...g.keys].sort()) {
      const p = path ? `${path}/${k}` : k;
      if (h5.datasets(path).includes(p)) {
        const d = h5.data(p);
        hash.update(`${p}|${d.dtype}|${d.shape.join('x')}|${JSON.stringify(h5.file.get(p).attrs)}|${Array.from(d.value as ArrayLike<number>, String).join(',')}\n`);
      } else visit(p);
    }
  };
  visit('');
  return hash.digest('hex').slice(0, 16);
}

/** sha256 (first 16 hex digits) of every file under DIR by relative path, sorted; time-stamped files left out. */
export function datasetDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.hdf5')) out[relative(dir, p)] = `h5:${hdf5Digest(p)}`;
      else if (!TIME_STAMPED.has(e.name)) out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
    }
  };
  walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
