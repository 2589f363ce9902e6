import { Worker } from 'node:worker_threads';
import { TrajforgeError, type ErrorCode } from '../core/errors.js';
import { startModuleWorker } from '../parallel/module-worker.js';
import { createRunner, type EpisodeRunner, type RunnerInit } from './runner.js';
import { transferables, type EpisodeData } from '../dataset/episode.js';

export interface EpisodeJob {
  episode: number;
  seed: number;
  /** The episode's place in the dataset being written (what an encoder may name files by). */
  position: number;
}

/**
 * An encoding step the workers run on each episode they produce (a dataset format's PNG, npz or
 * record bytes), so the consumer only commits. Given as a module to import (URL) exporting
 * `encoderFor(format)` (a promise of the function) and plain data, since functions do not cross thread boundaries; this keeps
 * episode/ free of any format.
 */
export interface WorkerEncoding {
  module: string;
  format: string;
  meta: unknown;
}

/** An episode and, when the workers encode, its encoding. */
export interface Produced {
  ep: EpisodeData;
  encoded?: unknown;
}

/** Jobs by position, made on demand: a run of a hundred million episodes is not a hundred million objects up front (arrays qualify too). */
export interface EpisodeJobs {
  readonly length: number;
  at(position: number): EpisodeJob | undefined;
}

/**
 * Produces episodes on worker threads (or in-process with workers = 0) and hands them back in job
 * order. At most `workers * 2` to `workers * 6` jobs are in flight (fewer for larger episodes),
 * and the next job is dispatched only when the consumer takes a result, so memory stays bounded
 * however long the run (backpressure).
 */
export async function* produceEpisodes(init: RunnerInit, jobs: EpisodeJobs, workers: number, encoding?: WorkerEncoding): AsyncGenerator<Produced> {
  if (workers <= 0) {
    const runner: EpisodeRunner = await createRunner(init);
    try {
      for (let i = 0; i < jobs.length; i++) {
        const j = jobs.at(i)!;
        yield { ep: await runner.run(j.episode, j.seed) };
      }
    } finally {
      await runner.close();
    }
    return;
  }
  const pool = await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, jobs.length)) }, () => startWorker({ init, encoding })));
  const results = new Map<number, Promise<Produced>>();
  const idle = [...pool];
  let next = 0;
  // Jobs in flight: two per worker at first, up to six while episodes are small. More keep the
  // workers busy while the consumer commits a checkpoint; the bytes held stay about IN_FLIGHT_BYTES.
  let maxInFlight = pool.length * 2;
  let largestEpisode = 0;
  const sizeWindow = (p: Produced) => {
    largestEpisode = Math.max(largestEpisode, episodeBytes(p.ep));
    maxInFlight = pool.length * Math.min(6, Math.max(2, Math.floor(IN_FLIGHT_BYTES / pool.length / Math.max(1, largestEpisode))));
  };
  const queue: { job: number; resolve: (e: Produced) => void; reject: (e: Error) => void }[][] = pool.map(() => []);
  const dispatch = () => {
    while (next < jobs.length && results.size < maxInFlight) {
      const job = next++;
      const w = idle.length > 0 ? idle.shift()! : pool[job % pool.length]!;
      const wi = pool.indexOf(w);
      const result = new Promise<Produced>((resolve, reject) => {
        queue[wi]!.push({ job, resolve, reject });
        w.worker.postMessage(jobs.at(job));
      });
      // Results still in flight when the consumer stops (an exporter failed) reject as their
      // workers are terminated; nobody awaits them then, and that is no error of its own.
      result.catch(() => undefined);
      results.set(job, result);
    }
  };
  for (const [wi, w] of pool.entries()) {
    w.worker.on('message', (msg: { ok: boolean; ep?: EpisodeData; encoded?: unknown; code?: ErrorCode; message?: string }) => {
      const pending = queue[wi]!.shift();
      if (!pending) return;
      if (msg.ok) pending.resolve({ ep: msg.ep!, encoded: msg.encoded });
      else pending.reject(new TrajforgeError(msg.code ?? 'E_WORKER_FAILED', `episode ${jobs.at(pending.job)!.episode}: ${msg.message}`));
    });
    const fail = (e: Error) => {
      for (const p of queue[wi]!.splice(0)) p.reject(new TrajforgeError('E_WORKER_FAILED', `worker ${wi} died: ${e.message}`));
    };
    w.worker.on('error', fail);
    w.worker.on('exit', (code) => {
      if (queue[wi]!.length > 0) fail(new Error(`exit code ${code}`));
    });
  }
  try {
    dispatch();
    for (let i = 0; i < jobs.length; i++) {
      const ep = await results.get(i)!;
      results.delete(i);
      sizeWindow(ep);
      dispatch();
      yield ep;
    }
  } finally {
    await Promise.all(pool.map((w) => w.worker.terminate()));
  }
}

/** Bytes of produced episodes the pool lets wait for the consumer (see produceEpisodes). */
const IN_FLIGHT_BYTES = 64 * 1024 * 1024;

function episodeBytes(ep: EpisodeData): number {
  return transferables(ep).reduce((n, b) => n + b.byteLength, 0);
}

/** What a worker thread starts from. */
export interface WorkerData {
  init: RunnerInit;
  encoding?: WorkerEncoding;
}

interface PoolWorker {
  worker: Worker;
}

async function startWorker(data: WorkerData): Promise<PoolWorker> {
  return { worker: await startModuleWorker(import.meta.url, 'worker', data, 'worker') };
}
