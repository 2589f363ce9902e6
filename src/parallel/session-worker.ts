import { parentPort, workerData } from 'node:worker_threads';
import { isTrajforgeError } from '../core/errors.js';
import { ownedBuffers } from '../core/transfer.js';
import { OnnxModel } from '../model/onnx/runtime.js';
import type { SessionJob, SessionWorkerData } from './session-pool.js';

/**
 * Worker thread of a SessionPool or GradientShards: one onnxruntime session of one graph, run on
 * the feeds each message brings; the outputs move back without a copy.
 */
const port = parentPort!;
const { bytes, onnx } = workerData as SessionWorkerData;
const fail = (e: unknown) => ({ ok: false, code: isTrajforgeError(e) ? e.code : 'E_WORKER_FAILED', message: (e as Error).message });
let model: OnnxModel | null = null;
try {
  model = await OnnxModel.load(bytes, onnx);
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage(fail(e));
}
// A job this thread cannot read is answered as a failure, not left waiting.
port.on('messageerror', (e: Error) => port.postMessage(fail(e)));
port.on('message', (msg: SessionJob) => {
  model!.run(msg.feeds, msg.fetch).then(
    (out) => port.postMessage({ ok: true, out }, ownedBuffers(out)),
    (e: unknown) => port.postMessage(fail(e)),
  );
});
