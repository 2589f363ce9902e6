import { parentPort, workerData } from 'node:worker_threads';
import { isTrajforgeError } from '../core/errors.js';
import { createRunner, type RunnerInit } from './runner.js';
import { transferables } from '../dataset/episode.js';

/** Worker thread: owns one runner, turns {episode, seed} requests into episode data. */
const port = parentPort!;
const runner = await createRunner(workerData as RunnerInit);
port.on('message', (msg: { episode: number; seed: number } | { close: true }) => {
  if ('close' in msg) {
    runner.close();
    port.close();
    return;
  }
  try {
    const ep = runner.run(msg.episode, msg.seed);
    port.postMessage({ ok: true, ep }, transferables(ep));
  } catch (e) {
    port.postMessage({ ok: false, code: isTrajforgeError(e) ? e.code : 'E_WORKER_FAILED', message: (e as Error).message, stack: (e as Error).stack });
  }
});
port.postMessage({ ready: true });
