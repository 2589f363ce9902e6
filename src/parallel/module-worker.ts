import { Worker } from 'node:worker_threads';

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
