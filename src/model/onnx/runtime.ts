/**
 * The one module that touches onnxruntime: loads ModelProto bytes into an inference session and
 * runs float32 (and int64 index) feeds through it. Environment and CLI flags are read by the caller (see
 * parseProviders) so this stays testable with explicit options.
 *
 * Two runtimes behind one API (onnxruntime-common's): onnxruntime-node, the native build (an
 * optional dependency: its install script fetches CUDA libraries on Linux x64, which fails
 * offline, and npm then leaves it out), and onnxruntime-web, the same engine compiled to
 * WebAssembly (a plain dependency, nothing to install). `auto` takes the native one when it
 * loads and WebAssembly otherwise; TRAJFORGE_ONNX_BACKEND (read by the caller) picks one.
 * Measured on the 2-core machine, PushCube's conv encoder: native 1,100 frames/s on one thread,
 * WebAssembly 560 on one and 990 on two.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { TrajforgeError } from '../../core/errors.js';
import { unitFrames } from '../transitions.js';

/** The variable the CLI reads the execution-provider list from, e.g. `cuda,cpu`. */
export const PROVIDERS_ENV = 'TRAJFORGE_ORT_PROVIDERS';
/** The variable the CLI reads the runtime from: native, wasm or auto (the default). */
export const BACKEND_ENV = 'TRAJFORGE_ONNX_BACKEND';

export type OnnxBackendChoice = 'auto' | 'native' | 'wasm';
export const ONNX_BACKENDS: readonly OnnxBackendChoice[] = ['auto', 'native', 'wasm'];

export interface OnnxModelOptions {
  /** Execution providers in order of preference (onnxruntime names: 'cpu', 'cuda', ...). Default ['cpu']. */
  readonly providers?: readonly string[];
  /** Intra-op threads. Default 1: measured faster than 2 for these small dense graphs on the 2-core dev box. */
  readonly threads?: number;
  /** Which onnxruntime runs the graph (default: the process's choice, see setOnnxBackend). */
  readonly backend?: OnnxBackendChoice;
  /**
   * Whether idle intra-op threads spin waiting for the next op (native runtime; default true).
   * Spinning saves a wake-up when the session has the cores to itself; beside other work (label's
   * ffmpeg processes and writing) the spinning threads take the cores that work needs.
   */
  readonly spinning?: boolean;
}

/** The onnxruntime module in use: the API both runtimes share. */
interface OrtModule {
  InferenceSession: typeof InferenceSession;
  Tensor: typeof Tensor;
  env: { logLevel?: string; wasm?: { numThreads?: number } };
}

interface LoadedBackend {
  name: 'native' | 'wasm';
  ort: OrtModule;
}

let processChoice: OnnxBackendChoice = 'auto';
/** WebAssembly's thread pool size, fixed by the first session (it cannot change afterwards). */
let wasmThreads: number | null = null;
const loaded = new Map<'native' | 'wasm', Promise<LoadedBackend>>();

/** The runtime OnnxModel.load uses when its options do not say (the CLI sets it from TRAJFORGE_ONNX_BACKEND). */
export function setOnnxBackend(choice: string | undefined): void {
  const c = (choice ?? '').trim().toLowerCase() || 'auto';
  if (!ONNX_BACKENDS.includes(c as OnnxBackendChoice)) throw new TrajforgeError('E_USAGE', `${BACKEND_ENV}=${choice}: expected one of ${ONNX_BACKENDS.join(', ')}`);
  processChoice = c as OnnxBackendChoice;
}

/** Which runtime a choice comes to on this machine ('auto': native when it loads). */
export async function onnxBackend(choice: OnnxBackendChoice = processChoice): Promise<'native' | 'wasm'> {
  return (await backend(choice)).name;
}

async function backend(choice: OnnxBackendChoice): Promise<LoadedBackend> {
  if (choice === 'wasm') return load('wasm');
  if (choice === 'native') return load('native');
  try {
    return await load('native');
  } catch {
    return load('wasm');
  }
}

function load(name: 'native' | 'wasm'): Promise<LoadedBackend> {
  let p = loaded.get(name);
  if (!p) {
    // Module names in variables: the native runtime may be absent, and bundlers should not inline either.
    const specifier = name === 'native' ? 'onnxruntime-node' : 'onnxruntime-web';
    p = (import(specifier) as Promise<OrtModule & { default?: OrtModule }>).then(
      (m) => {
        const ort = m.InferenceSession ? m : m.default!;
        if (name === 'wasm') {
          // Warnings (an initializer the optimiser found unused) are not the user's to act on.
          ort.env.logLevel = 'error';
        }
        return { name, ort };
      },
      (e: unknown) => {
        loaded.delete(name);
        throw new TrajforgeError('E_INTERNAL', `onnxruntime: the ${name === 'native' ? 'native runtime (onnxruntime-node)' : 'WebAssembly runtime (onnxruntime-web)'} cannot be loaded: ${message(e)}`, {
          hint: name === 'native' ? `install it (npm install onnxruntime-node; README: GPU inference) or use ${BACKEND_ENV}=wasm` : undefined,
        });
      },
    );
    loaded.set(name, p);
  }
  return p;
}

/** An output tensor: float32, or uint8 (image bytes). */
export interface OnnxOutput {
  readonly data: Float32Array | Uint8Array;
  readonly dims: number[];
}

/**
 * An input tensor: row-major float32 data (or int64 indices) and its shape. Bytes (rgb frames)
 * feed a float32 input as byte / 255, converted by the runner, so a worker thread running the
 * graph converts them there, and the message carries a quarter of the floats' bytes.
 */
export interface InputTensor {
  readonly data: Float32Array | BigInt64Array | Uint8Array;
  readonly dims: readonly number[];
}

/** A comma list such as `cuda, cpu` (the value of TRAJFORGE_ORT_PROVIDERS); unset or blank means ['cpu']. */
export function parseProviders(value: string | undefined): string[] {
  const providers = (value ?? '')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  return providers.length > 0 ? providers : ['cpu'];
}

/** One input or output of a loaded graph, as signature() describes it. */
export interface SignatureEntry {
  name: string;
  shape?: readonly (number | string)[];
  type?: string;
}

/** What runs one graph: an OnnxModel on the calling thread, or a pool of them in worker threads (parallel/session-pool.ts). */
export interface GraphRunner {
  /**
   * `handOver`: the feeds' arrays are the caller's no longer, so a runner in another thread may
   * take their buffers instead of copying them (otherwise the caller's arrays stay intact).
   */
  run(feeds: Readonly<Record<string, InputTensor>>, fetch: readonly string[], handOver?: boolean): Promise<Record<string, OnnxOutput>>;
  /** Runs it carries out at once: callers with independent runs keep this many in flight. */
  readonly concurrency: number;
  release(): Promise<void>;
}

export class OnnxModel implements GraphRunner {
  private released = false;
  readonly concurrency = 1;

  private constructor(
    private readonly session: InferenceSession,
    private readonly ort: OrtModule,
    /** The runtime running this graph. */
    readonly backend: 'native' | 'wasm',
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async load(bytes: Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const providers = options.providers && options.providers.length > 0 ? [...options.providers] : ['cpu'];
    const threads = options.threads ?? 1;
    if (!Number.isSafeInteger(threads) || threads < 0) throw new TrajforgeError('E_INTERNAL', `onnxruntime: threads must be a non-negative integer, got ${threads}`);
    const { name, ort } = await backend(options.backend ?? processChoice);
    if (name === 'wasm' && providers.some((p) => p !== 'cpu' && p !== 'wasm')) {
      throw new TrajforgeError('E_USAGE', `onnxruntime: providers [${providers.join(', ')}] need the native runtime, and the WebAssembly one is in use (onnxruntime-node is not installed or ${BACKEND_ENV}=wasm)`, {
        hint: `npm install onnxruntime-node (README: GPU inference), or ${PROVIDERS_ENV}=cpu`,
      });
    }
    // WebAssembly's threads are one pool for the process, set before its first session.
    if (name === 'wasm' && wasmThreads === null && ort.env.wasm) ort.env.wasm.numThreads = wasmThreads = Math.max(1, threads);
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(
        bytes,
        name === 'wasm'
          ? { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }
          : {
              executionProviders: providers,
              intraOpNumThreads: threads,
              graphOptimizationLevel: 'all',
              // Errors only: onnxruntime's warnings (an initializer its optimiser found unused) are not the user's to act on.
              logSeverityLevel: 3,
              ...(options.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
            },
      );
    } catch (e) {
      throw new TrajforgeError('E_INTERNAL', `onnxruntime could not load the model with providers [${providers.join(', ')}]: ${message(e)}`, {
        hint: providers.some((p) => p !== 'cpu') ? `non-CPU providers need their binaries installed (README: GPU inference); ${PROVIDERS_ENV}=cpu falls back to the CPU` : undefined,
      });
    }
    return new OnnxModel(session, ort, name, [...session.inputNames], [...session.outputNames]);
  }

  /** Runs the graph; every input must be fed; returns the `fetch` outputs (default: all), computing only what they need. */
  async run(feeds: Readonly<Record<string, InputTensor>>, fetch: readonly string[] = this.outputNames): Promise<Record<string, OnnxOutput>> {
    if (this.released) throw new TrajforgeError('E_INTERNAL', 'onnxruntime: run() after release()');
    const tensors: Record<string, Tensor> = {};
    for (const name of this.inputNames) {
      const feed = feeds[name];
      if (feed === undefined) throw new TrajforgeError('E_MODEL_SHAPE', `model input '${name}' is not fed (inputs: ${this.inputNames.join(', ')})`);
      checkFeed(name, feed, this.session.inputMetadata.find((m) => m.name === name));
      tensors[name] = feed.data instanceof BigInt64Array ? new this.ort.Tensor('int64', feed.data, [...feed.dims]) : new this.ort.Tensor('float32', feed.data instanceof Uint8Array ? unitFrames(feed.data) : feed.data, [...feed.dims]);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) throw new TrajforgeError('E_MODEL_SHAPE', `'${name}' is not a model input (inputs: ${this.inputNames.join(', ')})`);
    }
    let results: InferenceSession.ReturnType;
    try {
      results = fetch === this.outputNames ? await this.session.run(tensors) : await this.session.run(tensors, [...fetch]);
    } catch (e) {
      throw new TrajforgeError('E_MODEL_SHAPE', `onnxruntime run failed: ${message(e)}`);
    }
    const out: Record<string, OnnxOutput> = {};
    for (const name of fetch) {
      const t = results[name];
      if (t === undefined || !(t.data instanceof Float32Array || (t.type === 'uint8' && t.data instanceof Uint8Array))) {
        throw new TrajforgeError('E_INTERNAL', `onnxruntime: output '${name}' is ${t === undefined ? 'missing' : t.type}, expected float32 or uint8`);
      }
      out[name] = { data: t.data, dims: [...t.dims] };
    }
    return out;
  }

  /**
   * Input and output names with their declared shapes (strings for symbolic dims, undefined where
   * the graph does not say) and element types (onnxruntime's names: 'float32', 'int64', ...;
   * undefined for values that are not tensors).
   */
  signature(): { inputs: SignatureEntry[]; outputs: SignatureEntry[] } {
    const describe = (m: InferenceSession.ValueMetadata): SignatureEntry => ({ name: m.name, ...(m.isTensor ? { shape: m.shape, type: m.type } : {}) });
    return { inputs: this.session.inputMetadata.map(describe), outputs: this.session.outputMetadata.map(describe) };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

/** Fails early with the offending input's name where onnxruntime's message would be cryptic. */
function checkFeed(name: string, feed: InputTensor, meta: InferenceSession.ValueMetadata | undefined): void {
  const size = feed.dims.reduce((a, b) => a * b, 1);
  if (!feed.dims.every((d) => Number.isSafeInteger(d) && d >= 0) || size !== feed.data.length) {
    throw new TrajforgeError('E_MODEL_SHAPE', `input '${name}': dims [${feed.dims.join(', ')}] do not match ${feed.data.length} values`);
  }
  if (meta === undefined || !meta.isTensor || meta.shape.length === 0) return; // shape unknown to the session
  const expected = meta.shape;
  const mismatch = expected.length !== feed.dims.length || expected.some((d, i) => typeof d === 'number' && d >= 0 && d !== feed.dims[i]);
  if (mismatch) {
    throw new TrajforgeError('E_MODEL_SHAPE', `input '${name}' has dims [${feed.dims.join(', ')}], the model expects [${expected.join(', ')}]`);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
