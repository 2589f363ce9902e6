/**
 * The one module that touches onnxruntime-node: loads ModelProto bytes into an inference
 * session and runs float32 feeds through it. Environment and CLI flags are read by the caller
 * (see parseProviders) so this stays testable with explicit options.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TrajforgeError } from '../../core/errors.js';

/** The variable the CLI reads the execution-provider list from, e.g. `cuda,cpu`. */
export const PROVIDERS_ENV = 'TRAJFORGE_ORT_PROVIDERS';

export interface OnnxModelOptions {
  /** Execution providers in order of preference (onnxruntime names: 'cpu', 'cuda', ...). Default ['cpu']. */
  readonly providers?: readonly string[];
  /** Intra-op threads. Default 1: measured faster than 2 for these small dense graphs on the 2-core dev box. */
  readonly threads?: number;
}

/** A float32 tensor: row-major data and its shape. */
/** An output tensor: float32, or uint8 (image bytes). */
export interface OnnxOutput {
  readonly data: Float32Array | Uint8Array;
  readonly dims: number[];
}

export interface FloatTensor {
  readonly data: Float32Array;
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

export class OnnxModel {
  private released = false;

  private constructor(
    private readonly session: InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async load(bytes: Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const providers = options.providers && options.providers.length > 0 ? [...options.providers] : ['cpu'];
    const threads = options.threads ?? 1;
    if (!Number.isSafeInteger(threads) || threads < 0) throw new TrajforgeError('E_INTERNAL', `onnxruntime: threads must be a non-negative integer, got ${threads}`);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, {
        executionProviders: providers,
        intraOpNumThreads: threads,
        graphOptimizationLevel: 'all',
        // Errors only: onnxruntime's warnings (an initializer its optimiser found unused) are not the user's to act on.
        logSeverityLevel: 3,
      });
    } catch (e) {
      throw new TrajforgeError('E_INTERNAL', `onnxruntime could not load the model with providers [${providers.join(', ')}]: ${message(e)}`, {
        hint: providers.some((p) => p !== 'cpu') ? `non-CPU providers need their binaries installed (README: GPU inference); ${PROVIDERS_ENV}=cpu falls back to the CPU` : undefined,
      });
    }
    return new OnnxModel(session, [...session.inputNames], [...session.outputNames]);
  }

  /** Runs the graph; every input must be fed; returns the `fetch` outputs (default: all), computing only what they need. */
  async run(feeds: Readonly<Record<string, FloatTensor>>, fetch: readonly string[] = this.outputNames): Promise<Record<string, OnnxOutput>> {
    if (this.released) throw new TrajforgeError('E_INTERNAL', 'onnxruntime: run() after release()');
    const tensors: Record<string, Tensor> = {};
    for (const name of this.inputNames) {
      const feed = feeds[name];
      if (feed === undefined) throw new TrajforgeError('E_MODEL_SHAPE', `model input '${name}' is not fed (inputs: ${this.inputNames.join(', ')})`);
      checkFeed(name, feed, this.session.inputMetadata.find((m) => m.name === name));
      tensors[name] = new Tensor('float32', feed.data, [...feed.dims]);
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
function checkFeed(name: string, feed: FloatTensor, meta: InferenceSession.ValueMetadata | undefined): void {
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
