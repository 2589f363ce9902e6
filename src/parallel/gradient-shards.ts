/**
 * Data-parallel training steps on the CPU (model/conv/train.ts shardedStep): a batch's sequences
 * split into equal shards, each shard's gradients computed by its own onnxruntime session (one
 * thread) in its own worker thread, the mean of the gradients applied by one Adam graph.
 *
 * Why: this model's ops are small, and one session on two threads keeps the second core busy
 * only part of the time (PushCube's step: ~250 ms on one thread, 195–360 ms on two, varying
 * from run to run), while two one-thread sessions on half batches each keep a core busy
 * (~170 ms for the pair; README, training engine). onnxruntime-node runs a session on the
 * calling JavaScript thread, so concurrency needs worker threads.
 */
import type { Worker } from 'node:worker_threads';
import { TrajforgeError, type ErrorCode } from '../core/errors.js';
import { startModuleWorker } from './module-worker.js';
import type { InputTensor, OnnxModelOptions, OnnxOutput } from '../model/onnx/runtime.js';
import type { GradientShardRunner } from '../model/conv/train.js';

export interface ShardWorkerData {
  bytes: Uint8Array;
  onnx: OnnxModelOptions;
}

export interface ShardJob {
  feeds: Record<string, InputTensor>;
  fetch: string[];
}

type Reply = { ok: true; out: Record<string, OnnxOutput> } | { ok: false; code: ErrorCode; message: string };

/** No step waits less than this for a shard's reply before calling the worker lost. */
const MIN_REPLY_WAIT_MS = 120_000;
/** A reply slower than this many times the slowest step so far calls the worker lost. */
const REPLY_WAIT_FACTOR = 30;

export class GradientShards implements GradientShardRunner {
  /** The slowest step so far (ms): the wait for a reply scales with it. */
  private slowest = 0;

  /** Why a worker is gone ('error' or 'exit' between steps), by index; a step asks it nothing then. */
  private readonly gone: (string | null)[];

  private constructor(private readonly workers: Worker[]) {
    this.gone = workers.map(() => null);
    workers.forEach((w, i) => {
      // Permanent listeners: an 'error' with none would end the process.
      w.on('error', (e: Error) => (this.gone[i] ??= `failed: ${e.message}`));
      w.on('exit', (code: number) => (this.gone[i] ??= `exited (code ${code})`));
    });
  }

  /** `count` workers, each with a one-thread session of the gradient graph `bytes`. */
  static async start(bytes: Uint8Array, count: number, onnx: OnnxModelOptions): Promise<GradientShards> {
    const started = await Promise.allSettled(Array.from({ length: count }, () => startShard(bytes, { ...onnx, threads: 1 })));
    const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
    return new GradientShards(workers);
  }

  get count(): number {
    return this.workers.length;
  }

  /**
   * Runs shard i on feeds[i], all at once; the outputs in shard order. A failure is thrown once
   * every shard has answered, so no late reply of this step is taken for the next one's.
   */
  async run(feeds: readonly Record<string, InputTensor>[], fetch: string[]): Promise<Record<string, OnnxOutput>[]> {
    const started = performance.now();
    const wait = Math.max(MIN_REPLY_WAIT_MS, REPLY_WAIT_FACTOR * this.slowest);
    const settled = await Promise.allSettled(
      this.workers.map((w, i) => (this.gone[i] !== null ? Promise.reject(new TrajforgeError('E_WORKER_FAILED', `training worker ${i} ${this.gone[i]}`)) : request(w, i, { feeds: feeds[i]!, fetch }, wait))),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.slowest = Math.max(this.slowest, performance.now() - started);
    return settled.map((s) => (s as PromiseFulfilledResult<Record<string, OnnxOutput>>).value);
  }

  /** Ends the workers (their sessions go with them). */
  async close(): Promise<void> {
    this.gone.fill('closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function startShard(bytes: Uint8Array, onnx: OnnxModelOptions): Promise<Worker> {
  const data: ShardWorkerData = { bytes, onnx };
  return startModuleWorker(import.meta.url, 'gradient-worker', data, 'training worker');
}

/**
 * One job's reply. A worker that fails, exits, cannot read the job or its reply ('messageerror'),
 * or does not answer within `waitMs` rejects with E_WORKER_FAILED instead: a step never hangs.
 */
function request(worker: Worker, index: number, job: ShardJob, waitMs: number): Promise<Record<string, OnnxOutput>> {
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
    const lost = (why: string) => new TrajforgeError('E_WORKER_FAILED', `training worker ${index} ${why}`);
    const onMessage = (msg: Reply) => settle(null, msg);
    const onMessageError = (e: Error) => settle(lost(`sent a reply that could not be read: ${e.message}`));
    const onError = (e: Error) => settle(lost(`failed: ${e.message}`));
    const onExit = (code: number) => settle(lost(`exited (code ${code}) during a step`));
    const timer = setTimeout(() => settle(lost(`did not answer within ${Math.round(waitMs / 1000)} s`)), waitMs);
    worker.once('message', onMessage);
    worker.once('messageerror', onMessageError);
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.postMessage(job);
  });
}

/** The starter `runTraining` takes to shard its batches (it does no I/O of its own). */
export const startGradientShards = (bytes: Uint8Array, count: number, onnx: OnnxModelOptions): Promise<GradientShardRunner> => GradientShards.start(bytes, count, onnx);
