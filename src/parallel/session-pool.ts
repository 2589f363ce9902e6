/**
 * One graph in several worker threads, each an onnxruntime session on one thread: runs go to
 * whichever worker is free, so independent runs (the encoder's chunks) use every core.
 *
 * Why: onnxruntime-node runs a session on the calling JavaScript thread, so a run blocks it, and
 * one session on two threads keeps the second core busy only part of the time (the conv encoder:
 * 1,800–3,900 frames/s from one measurement to the next on 2 cores, where a one-thread session
 * gives a steady 2,300 on chunks of 8 frames).
 */
import type { Worker } from 'node:worker_threads';
import { TrajforgeError, type ErrorCode } from '../core/errors.js';
import { ownedBuffers } from '../core/transfer.js';
import type { GraphRunner, InputTensor, OnnxModelOptions, OnnxOutput } from '../model/onnx/runtime.js';
import type { WorldModelSessionOptions } from '../model/session.js';
import { startModuleWorker } from './module-worker.js';

export interface SessionWorkerData {
  bytes: Uint8Array;
  onnx: OnnxModelOptions;
}

export interface SessionJob {
  feeds: Record<string, InputTensor>;
  fetch: string[];
}

type Reply = { ok: true; out: Record<string, OnnxOutput> } | { ok: false; code: ErrorCode; message: string };

/** No run waits less than this for its reply before calling the worker lost. */
export const MIN_REPLY_WAIT_MS = 120_000;

/** A worker with a one-thread session of `bytes` (`what` names it in messages). */
export function startSessionWorker(bytes: Uint8Array, onnx: OnnxModelOptions, what: string): Promise<Worker> {
  const data: SessionWorkerData = { bytes, onnx: { ...onnx, threads: 1 } };
  return startModuleWorker(import.meta.url, 'session-worker', data, what);
}

/** Starts `count` workers; if any fails, the others are ended and its error thrown. */
export async function startSessionWorkers(bytes: Uint8Array, count: number, onnx: OnnxModelOptions, what: string): Promise<Worker[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startSessionWorker(bytes, onnx, what)));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return workers;
}

/**
 * One job's reply. A worker that fails, exits, cannot read the job or its reply ('messageerror'),
 * or does not answer within `waitMs` rejects with E_WORKER_FAILED instead: a run never hangs.
 * The feeds' own buffers move to the worker (the caller must not use them again).
 */
export function request(worker: Worker, name: string, job: SessionJob, waitMs: number, transfer = false): Promise<Record<string, OnnxOutput>> {
  return new Promise((resolve, reject) => {
    const settle = (error: TrajforgeError | null, msg?: Reply) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('messageerror', onMessageError);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (error) reject(error);
      else if (msg!.ok) resolve(msg!.out);
      else reject(new TrajforgeError(msg!.code, msg!.message));
    };
    const lost = (why: string) => new TrajforgeError('E_WORKER_FAILED', `${name} ${why}`);
    const onMessage = (msg: Reply) => settle(null, msg);
    const onMessageError = (e: Error) => settle(lost(`sent a reply that could not be read: ${e.message}`));
    const onError = (e: Error) => settle(lost(`failed: ${e.message}`));
    const onExit = (code: number) => settle(lost(`exited (code ${code}) during a run`));
    const timer = setTimeout(() => settle(lost(`did not answer within ${Math.round(waitMs / 1000)} s`)), waitMs);
    worker.once('message', onMessage);
    worker.once('messageerror', onMessageError);
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.postMessage(job, transfer ? ownedBuffers(job.feeds) : []);
  });
}

/**
 * WorldModelSession's option to run its encoder and decoder in `count` one-thread worker sessions
 * each (none for a count of 1: they then run on the calling thread, without a worker's start-up).
 */
export function modelWorkers(count: number): Pick<WorldModelSessionOptions, 'workers'> {
  return count > 1 ? { workers: { count, start: (bytes, n, onnx) => SessionPool.start(bytes, n, onnx, 'model worker') } } : {};
}

/** A graph's runs spread over worker threads (see the module comment). */
export class SessionPool implements GraphRunner {
  private readonly idle: number[];
  private readonly waiting: (() => void)[] = [];
  /** Why a worker is gone ('error' or 'exit' while idle), by index. */
  private readonly gone: (string | null)[];

  private constructor(
    private readonly workers: Worker[],
    private readonly what: string,
  ) {
    this.idle = workers.map((_, i) => i);
    this.gone = workers.map(() => null);
    workers.forEach((w, i) => {
      // Permanent listeners: an 'error' with none would end the process.
      w.on('error', (e: Error) => (this.gone[i] ??= `failed: ${e.message}`));
      w.on('exit', (code: number) => (this.gone[i] ??= `exited (code ${code})`));
    });
  }

  /** `count` workers, each with a one-thread session of `bytes`; `what` names them in errors ("encoder worker"). */
  static async start(bytes: Uint8Array, count: number, onnx: OnnxModelOptions, what: string): Promise<SessionPool> {
    return new SessionPool(await startSessionWorkers(bytes, count, onnx, what), what);
  }

  get concurrency(): number {
    return this.workers.length;
  }

  /** One run on the next free worker; with `handOver` the feeds' own buffers move to it instead of being copied. */
  async run(feeds: Readonly<Record<string, InputTensor>>, fetch: readonly string[], handOver = false): Promise<Record<string, OnnxOutput>> {
    while (this.idle.length === 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    const i = this.idle.shift()!;
    try {
      if (this.gone[i] !== null) throw new TrajforgeError('E_WORKER_FAILED', `${this.what} ${i} ${this.gone[i]}`);
      return await request(this.workers[i]!, `${this.what} ${i}`, { feeds: { ...feeds }, fetch: [...fetch] }, MIN_REPLY_WAIT_MS, handOver);
    } finally {
      this.idle.push(i);
      this.waiting.shift()?.();
    }
  }

  /** Ends the workers (their sessions go with them). */
  async release(): Promise<void> {
    this.gone.fill('closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
