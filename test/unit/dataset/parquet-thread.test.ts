/**
 * RolloverParquetFiles encodes on a thread of its own: the files must hold exactly the batches
 * written, in order and rolled over by size; a failure on that thread must reach the caller as a
 * coded error naming the file; an aborted writer must leave nothing that touches the next one.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RolloverParquetFiles, readArrowBatches, type TypedColumn } from '../../../src/dataset/parquet.js';
import { isTrajforgeError } from '../../../src/core/errors.js';
import { tmpDir } from '../../helpers/dataset.js';

/** One batch: `rows` rows of an index column and a 16-wide float list, both derived from `first`. */
function batch(first: number, rows: number): TypedColumn[] {
  const index = BigInt64Array.from({ length: rows }, (_, r) => BigInt(first + r));
  const image = Float32Array.from({ length: rows * 16 }, (_, i) => first + i / 16);
  return [
    { def: { name: 'index', dtype: 'int64', form: 'scalar' }, dims: 1, values: index },
    { def: { name: 'image', dtype: 'float32', form: 'list' }, dims: 16, values: image },
  ];
}

function indices(file: string): number[] {
  return readArrowBatches(file).flatMap((b) => Array.from(b.getChild('index')!.toArray() as BigInt64Array, Number));
}

describe('data files written on the parquet thread', () => {
  it('hold every batch in order, a new file past the size limit; the columns given move to the thread', async () => {
    const dir = tmpDir('tf-pq-');
    const files = new RolloverParquetFiles((n) => join(dir, `file-${n}.parquet`), 1000);
    const given: TypedColumn[][] = [];
    let first = 0;
    for (const rows of [5, 7, 3, 9, 4]) {
      const b = batch(first, rows);
      given.push(b);
      await files.write(b, rows, 400);
      first += rows;
    }
    // 400 a batch against 1,000: two batches a file, the fifth batch in file 2.
    expect(files.file).toBe(2);
    await files.finish();
    expect(readdirSync(dir).sort()).toEqual(['file-0.parquet', 'file-1.parquet', 'file-2.parquet']);
    expect([0, 1, 2].flatMap((n) => indices(join(dir, `file-${n}.parquet`)))).toEqual(Array.from({ length: 28 }, (_, i) => i));
    const image = readArrowBatches(join(dir, 'file-1.parquet'))[0]!.getChild('image')!.get(0)!.toArray() as Float32Array;
    expect(Array.from(image)).toEqual(Array.from(batch(12, 1)[1]!.values as Float32Array));
    // Moved, not copied: the caller's arrays are detached.
    expect(given[0]![1]!.values.length).toBe(0);
  });

  it('a file that cannot be written is a coded E_IO naming it, thrown by a later call, never lost', async () => {
    const dir = tmpDir('tf-pq-');
    writeFileSync(join(dir, 'blocker'), 'a file where a folder is needed');
    const files = new RolloverParquetFiles(() => join(dir, 'blocker', 'file-0.parquet'), 1 << 20);
    let error: unknown = null;
    try {
      for (let i = 0; i < 5; i++) await files.write(batch(i * 4, 4), 4, 100);
      await files.finish();
    } catch (e) {
      error = e;
    }
    expect(isTrajforgeError(error) && error.code).toBe('E_IO');
    expect((error as Error).message).toContain(join(dir, 'blocker'));
  });

  it('an aborted writer leaves its file a .tmp and does not touch the next writer of the same file', async () => {
    const dir = tmpDir('tf-pq-');
    const path = () => join(dir, 'file-0.parquet');
    const first = new RolloverParquetFiles(path, 1 << 30);
    for (let i = 0; i < 20; i++) await first.write(batch(1000 + i * 50, 50), 50, 100);
    first.abort();
    const second = new RolloverParquetFiles(path, 1 << 30);
    await second.write(batch(0, 6), 6, 100);
    await second.finish();
    expect(indices(path())).toEqual([0, 1, 2, 3, 4, 5]);
    expect(existsSync(`${path()}.tmp`)).toBe(false);
  });
});
