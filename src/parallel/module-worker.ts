import { Worker } from 'node:worker_threads';
import { TrajforgeError, type ErrorCode } from '../core/errors.js';

/**
 * A worker thread running the module `name` beside the calling module (`from`: its
 * import.meta.url). Under the TypeScript sources (tests, tsx) the worker registers tsx's loader
 * before importing name.ts; compiled code (dist/) loads name.js directly.
 */
export function moduleWorker(from: string, name: string, workerData: unknown): Worker {
  return from.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL(`./${name}.ts`, from).href)}); });`, { eval: true, workerData })
    : new Worker(new URL(`./${name}.js`, from), { workerData });
}

/**
 * moduleWorker, resolved once the worker's first message is `{ ready: true }`. A worker that
 * fails to start, or answers `{ ok: false, code, message }` instead, is terminated and rejects
 * with that code (E_WORKER_FAILED otherwise); `what` names it in messages ("worker").
 */
export function startModuleWorker(from: string, name: string, workerData: unknown, what: string): Promise<Worker> {
  const worker = moduleWorker(from, name, workerData);
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new TrajforgeError('E_WORKER_FAILED', `${what} failed to start: ${e.message}`));
    worker.once('error', onError);
    worker.once('message', (msg: { ready?: boolean; ok?: boolean; code?: ErrorCode; message?: string }) => {
      worker.off('error', onError);
      if (msg.ready === true) return resolve(worker);
      void worker.terminate();
      reject(msg.ok === false ? new TrajforgeError(msg.code ?? 'E_WORKER_FAILED', msg.message ?? `${what} failed to start`) : new TrajforgeError('E_WORKER_FAILED', `${what} sent an unexpected first message`));
    });
  });
}
