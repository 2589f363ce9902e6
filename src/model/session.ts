/**
 * A loaded world model: the four ONNX graphs in onnxruntime-node sessions behind batch-friendly
 * methods on flat Float32Arrays. Inference always goes through here (and so through ONNX).
 */
import { TrajforgeError } from '../core/errors.js';
import type { ModelCard } from './card.js';
import { PART_NAMES, rgbBytesGraph, type PartName } from './export.js';
import { OnnxModel, type OnnxModelOptions } from './onnx/runtime.js';

/** Rows per onnxruntime call: large enough to amortise call overhead, small enough for cache. */
const CHUNK = 256;

export class WorldModelSession {
  private rgb?: OnnxModel;

  private constructor(
    readonly card: ModelCard,
    private readonly parts: Record<PartName, OnnxModel>,
    private readonly options: OnnxModelOptions,
  ) {}

  static async load(card: ModelCard, bytes: Record<PartName, Uint8Array>, options: OnnxModelOptions = {}): Promise<WorldModelSession> {
    const parts = {} as Record<PartName, OnnxModel>;
    for (const p of PART_NAMES) parts[p] = await OnnxModel.load(bytes[p], options);
    return new WorldModelSession(card, parts, options);
  }

  get latent(): number {
    return this.card.latent;
  }

  /** Values per decoded frame. */
  get pixels(): number {
    return this.card.decoded.width * this.card.decoded.height * 3;
  }

  get actionDim(): number {
    return this.card.action.names.length;
  }

  /** Runs one part over n rows in chunks; inputs are [name, row width]. */
  private async batched(part: PartName, n: number, inputs: [string, Float32Array, number[]][], outputs: [string, number][]): Promise<Float32Array[]> {
    const results = outputs.map(([, w]) => new Float32Array(n * w));
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const [name, data, rowShape] of inputs) {
        const width = rowShape.reduce((a, b) => a * b, 1);
        feeds[name] = { data: data.subarray(from * width, (from + m) * width), dims: [m, ...rowShape] };
      }
      const out = await this.parts[part].run(feeds);
      outputs.forEach(([name, w], i) => results[i]!.set(floats(out[name]!.data, name).subarray(0, m * w), from * w));
    }
    return results;
  }

  async encode(frames: Float32Array, n: number): Promise<Float32Array> {
    const { height, width } = this.card.input;
    return (await this.batched('encoder', n, [['frames', frames, [height, width, 3]]], [['z', this.latent]]))[0]!;
  }

  async decode(z: Float32Array, n: number): Promise<Float32Array> {
    return (await this.batched('decoder', n, [['z', z, [this.latent]]], [['frames', this.pixels]]))[0]!;
  }

  /**
   * Decoded frames as rgb bytes: clip(255 · decode(z) + offset) per value (see rgbBytesGraph; the
   * offset holds the residual-decoding term and the rounding half).
   */
  async decodeRgb(z: Float32Array, offset: Float32Array, n: number): Promise<Uint8Array> {
    const { width, height } = this.card.decoded;
    const P = this.pixels;
    this.rgb ??= await OnnxModel.load(rgbBytesGraph(width, height).toBytes(), this.options);
    const frames = await this.decode(z, n);
    const out = new Uint8Array(n * P);
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const dims = [m, height, width, 3];
      const r = await this.rgb.run({ frames: { data: frames.subarray(from * P, (from + m) * P), dims }, offset: { data: offset.subarray(from * P, (from + m) * P), dims } });
      out.set(r.rgb!.data.subarray(0, m * P), from * P);
    }
    return out;
  }

  async step(z: Float32Array, action: Float32Array, n: number): Promise<{ next: Float32Array; reward: Float32Array; done: Float32Array }> {
    const [next, reward, done] = await this.batched(
      'dynamics',
      n,
      [
        ['z', z, [this.latent]],
        ['action', action, [this.actionDim]],
      ],
      [
        ['z_next', this.latent],
        ['reward', 1],
        ['done', 1],
      ],
    );
    return { next: next!, reward: reward!, done: done! };
  }

  async inverse(z: Float32Array, zNext: Float32Array, n: number): Promise<Float32Array> {
    return (
      await this.batched(
        'inverse',
        n,
        [
          ['z', z, [this.latent]],
          ['z_next', zNext, [this.latent]],
        ],
        [['action', this.actionDim]],
      )
    )[0]!;
  }

  async release(): Promise<void> {
    for (const p of PART_NAMES) await this.parts[p].release();
    await this.rgb?.release();
  }
}

function floats(data: Float32Array | Uint8Array, name: string): Float32Array {
  if (!(data instanceof Float32Array)) throw new TrajforgeError('E_MODEL_SHAPE', `model output '${name}' is not float32`);
  return data;
}
