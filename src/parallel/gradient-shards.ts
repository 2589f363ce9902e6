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
import { TrajforgeError } from '../core/errors.js';
import { MIN_REPLY_WAIT_MS, request, startSessionWorkers } from './session-pool.js';
import type { InputTensor, OnnxModelOptions, OnnxOutput } from '../model/onnx/runtime.js';
import type { GradientShardRunner } from '../model/conv/train.js';

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
    return new GradientShards(await startSessionWorkers(bytes, count, onnx, 'training worker'));
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
      this.workers.map((w, i) => (this.gone[i] !== null ? Promise.reject(new TrajforgeError('E_WORKER_FAILED', `training worker ${i} ${this.gone[i]}`)) : request(w, `training worker ${i}`, { feeds: feeds[i]!, fetch }, wait))),
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

/** The starter `runTraining` takes to shard its batches (it does no I/O of its own). */
export const startGradientShards = (bytes: Uint8Array, count: number, onnx: OnnxModelOptions): Promise<GradientShardRunner> => GradientShards.start(bytes, count, onnx);
