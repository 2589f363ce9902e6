/**
 * Data-parallel training steps on the CPU: a batch's sequences split into equal shards, each
 * shard's gradients computed by its own onnxruntime session (one thread) in its own worker
 * thread, the mean of the gradients applied by one Adam graph (train-graph.ts adamGraph).
 *
 * Why: this model's ops are small, and one session on two threads keeps the second core busy
 * only part of the time (PushCube's step: ~250 ms on one thread, 195–360 ms on two, varying
 * from run to run), while two one-thread sessions on half batches each keep a core busy
 * (~170 ms for the pair; README, training engine). onnxruntime-node runs a session on the
 * calling JavaScript thread, so concurrency needs worker threads.
 */
import type { Worker } from 'node:worker_threads';
import { TrajforgeError, type ErrorCode } from '../../core/errors.js';
import { moduleWorker } from '../../core/worker-thread.js';
import type { InputTensor, OnnxModelOptions, OnnxOutput } from '../onnx/runtime.js';

export interface ShardWorkerData {
  bytes: Uint8Array;
  onnx: OnnxModelOptions;
}

export interface ShardJob {
  feeds: Record<string, InputTensor>;
  fetch: string[];
}

type Reply = { ok: true; out: Record<string, OnnxOutput> } | { ok: false; code: ErrorCode; message: string };

export class GradientShards {
  private constructor(private readonly workers: Worker[]) {}

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

  /** Runs shard i on feeds[i], all at once; the outputs in shard order. */
  run(feeds: readonly Record<string, InputTensor>[], fetch: string[]): Promise<Record<string, OnnxOutput>[]> {
    return Promise.all(this.workers.map((w, i) => request(w, { feeds: feeds[i]!, fetch })));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.postMessage({ close: true });
          }),
      ),
    );
  }
}

function startShard(bytes: Uint8Array, onnx: OnnxModelOptions): Promise<Worker> {
  const data: ShardWorkerData = { bytes, onnx };
  const worker = moduleWorker(import.meta.url, 'gradient-worker', data);
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new TrajforgeError('E_WORKER_FAILED', `training worker failed to start: ${e.message}`));
    worker.once('error', onError);
    worker.once('message', (msg: { ready?: boolean } | Reply) => {
      worker.off('error', onError);
      if ('ready' in msg) return resolve(worker);
      void worker.terminate();
      reject(new TrajforgeError('ok' in msg && !msg.ok ? msg.code : 'E_WORKER_FAILED', 'ok' in msg && !msg.ok ? msg.message : 'training worker sent an unexpected first message'));
    });
  });
}

function request(worker: Worker, job: ShardJob): Promise<Record<string, OnnxOutput>> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new TrajforgeError('E_WORKER_FAILED', `training worker failed: ${e.message}`));
    worker.once('error', onError);
    worker.once('message', (msg: Reply) => {
      worker.off('error', onError);
      if (msg.ok) resolve(msg.out);
      else reject(new TrajforgeError(msg.code, msg.message));
    });
    worker.postMessage(job);
  });
}
