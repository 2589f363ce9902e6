import { parentPort } from 'node:worker_threads';
import { asIoError, isTrajforgeError } from '../core/errors.js';
import { ArrowParquetFile, type TypedColumn } from './parquet.js';

/**
 * Worker thread of ParquetThread: encodes data files with parquet-wasm off the thread that
 * commits. Batches arrive in order, each naming its file; a batch naming another file finishes the
 * one before (the rollover is decided by the sender).
 */
export type ParquetJob = { id: number; op: 'write'; path: string; columns: TypedColumn[]; rows: number } | { id: number; op: 'finish' } | { id: number; op: 'abort' };

const port = parentPort!;
let current: { path: string; file: ArrowParquetFile } | null = null;

async function run(job: ParquetJob): Promise<void> {
  if (job.op === 'write') {
    if (current && current.path !== job.path) await finishCurrent();
    current ??= { path: job.path, file: new ArrowParquetFile(job.path) };
    current.file.write(job.columns, job.rows);
  } else if (job.op === 'finish') await finishCurrent();
  else {
    current?.file.abort();
    current = null;
  }
}

async function finishCurrent(): Promise<void> {
  const c = current;
  current = null;
  await c?.file.finish();
}

// Jobs run strictly one after another: a finish must follow the writes sent before it.
let queue: Promise<void> = Promise.resolve();
port.on('message', (job: ParquetJob) => {
  queue = queue.then(() =>
    run(job).then(
      () => port.postMessage({ id: job.id, ok: true }),
      (thrown: unknown) => {
        const e = asIoError(thrown, current ? `${current.path}.tmp` : job.op === 'write' ? `${job.path}.tmp` : '');
        // Nothing more goes to a file that failed: it stays a .tmp, as the in-thread writer leaves it.
        current?.file.abort();
        current = null;
        port.postMessage({ id: job.id, ok: false, error: isTrajforgeError(e) ? { code: e.code, message: e.message, details: e.details } : { message: e instanceof Error ? e.message : String(e) } });
      },
    ),
  );
});
port.postMessage({ ready: true });
