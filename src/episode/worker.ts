import { parentPort, workerData } from 'node:worker_threads';
import { isTrajforgeError } from '../core/errors.js';
import { transferables } from '../dataset/episode.js';
import { ownedBuffers } from '../core/transfer.js';
import type { EpisodeJob, WorkerData } from './pool.js';
import { createRunner } from './runner.js';

/**
 * Worker thread: owns one runner, turns {episode, seed, position} requests into episode data and,
 * when asked, the dataset format's encoding of it.
 */
const port = parentPort!;
const { init, encoding } = workerData as WorkerData;
const runner = await createRunner(init);
type Encode = (ep: unknown, meta: unknown, position: number) => unknown;
const encode: Encode | undefined = encoding ? await ((await import(encoding.module)) as { encoderFor(format: string): Promise<Encode | undefined> }).encoderFor(encoding.format) : undefined;
// Jobs run one after another on the one environment, in arrival order: an episode whose policy
// awaits (ONNX) must not interleave with the next job's.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: EpisodeJob | { close: true }) => {
  queue = queue.then(() => ('close' in msg ? close() : produce(msg)));
});

async function produce(msg: EpisodeJob): Promise<void> {
  try {
    const ep = await runner.run(msg.episode, msg.seed);
    const encoded = encode?.(ep, encoding!.meta, msg.position);
    port.postMessage({ ok: true, ep, encoded }, [...new Set([...transferables(ep), ...ownedBuffers(encoded)])]);
  } catch (e) {
    port.postMessage({ ok: false, code: isTrajforgeError(e) ? e.code : 'E_WORKER_FAILED', message: (e as Error).message, stack: (e as Error).stack });
  }
}

async function close(): Promise<void> {
  await runner.close();
  port.close();
}
port.postMessage({ ready: true });
