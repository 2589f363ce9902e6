/**
 * A trained world model as the library hands it out: the model card plus the four ONNX parts
 * behind encode / step / decode / inverse on flat, row-major typed arrays. Every method takes a
 * batch (the row count follows from the array lengths) and checks the lengths against the card,
 * so a wrong shape is an E_MODEL_SHAPE naming the sizes, not an onnxruntime message.
 */
import { TrajforgeError } from '../core/errors.js';
import type { ModelCard } from './card.js';
import type { OnnxModelOptions } from './onnx/runtime.js';
import { WorldModelSession } from './session.js';
import { readModelCard, readModelParts } from './store.js';

/** rgb frames as bytes or as [0, 1] floats, row-major N × H × W × 3. */
export type Frames = Uint8Array | Uint8ClampedArray | Float32Array;

export interface WorldModelOptions {
  /** onnxruntime execution providers in order of preference, e.g. ['cuda', 'cpu']. Default ['cpu']. */
  providers?: readonly string[];
  /** Intra-op threads per part. Default 1. */
  threads?: number;
}

/** One batch of transitions predicted by the dynamics. */
export interface WorldModelStep {
  /** N × latent: the next latents. */
  z: Float32Array;
  /** N: predicted rewards. */
  reward: Float32Array;
  /** N: probability that the episode terminated on this step. */
  done: Float32Array;
}

export interface WorldModel {
  /** The model folder. */
  readonly dir: string;
  /** model.json: sizes, normalisation, provenance, training settings and scores. */
  readonly card: ModelCard;
  /** Latent size Z. */
  readonly latent: number;
  /** Action size A (environment units; the graphs rescale internally). */
  readonly actionDim: number;
  readonly actionNames: readonly string[];
  /** The dataset camera the model was trained on. */
  readonly camera: string;
  /** Encoder input frames: the camera's resolution. */
  readonly input: { readonly width: number; readonly height: number };
  /**
   * Frames the encoder sees per latent: 1, or 2 when it also takes each frame's predecessor (z
   * then holds velocities; model.json input.context).
   */
  readonly context: number;
  /** Decoded frames: the input box-filtered by card.input.downsample. */
  readonly decoded: { readonly width: number; readonly height: number };
  /**
   * Frames N × H × W × 3 (rgb, row-major, input size) -> latents N × Z. Uint8 frames are rgb
   * bytes (divided by 255 here); Float32 frames are already in [0, 1]. With context 2, `previous`
   * holds each frame's predecessor (same layout and type); without it each frame counts as its own
   * (at rest). For consecutive frames of one clip, encodeSequence builds it.
   */
  encode(frames: Frames, previous?: Frames): Promise<Float32Array>;
  /** Consecutive frames of one clip (N × H × W × 3) -> N latents, each frame's predecessor the one before it. */
  encodeSequence(frames: Frames): Promise<Float32Array>;
  /** Latents N × Z and actions N × A -> next latents, rewards and termination probabilities. */
  step(z: Float32Array, actions: Float32Array): Promise<WorldModelStep>;
  /** Latents N × Z -> frames N × h × w × 3 in [0, 1] (decoded size; unclipped). */
  decode(z: Float32Array): Promise<Float32Array>;
  /** Latent pairs (N × Z each) -> the actions N × A that explain each transition. */
  inverse(z0: Float32Array, z1: Float32Array): Promise<Float32Array>;
  /** Frees the onnxruntime sessions; the model is unusable afterwards. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Loads model.json and the four ONNX files of `dir` (written by `trajforge train`). */
export async function loadWorldModel(dir: string, options: WorldModelOptions = {}): Promise<WorldModel> {
  if (typeof dir !== 'string' || dir === '') throw new TrajforgeError('E_USAGE', 'loadWorldModel needs a model folder (written by `trajforge train`)');
  const card = readModelCard(dir);
  const onnx: OnnxModelOptions = { ...(options.providers ? { providers: options.providers } : {}), ...(options.threads !== undefined ? { threads: options.threads } : {}) };
  const session = await WorldModelSession.load(card, readModelParts(dir, card), onnx, dir);
  return new LoadedWorldModel(dir, card, session);
}

class LoadedWorldModel implements WorldModel {
  readonly latent: number;
  readonly actionDim: number;
  readonly actionNames: readonly string[];
  readonly camera: string;
  readonly input: { readonly width: number; readonly height: number };
  readonly decoded: { readonly width: number; readonly height: number };
  readonly context: number;
  private session: WorldModelSession | null;

  constructor(
    readonly dir: string,
    readonly card: ModelCard,
    session: WorldModelSession,
  ) {
    this.session = session;
    this.latent = card.latent;
    this.actionNames = card.action.names;
    this.actionDim = card.action.names.length;
    this.camera = card.camera;
    this.input = { width: card.input.width, height: card.input.height };
    this.decoded = { width: card.decoded.width, height: card.decoded.height };
    this.context = session.context;
  }

  async encode(frames: Frames, previous?: Frames): Promise<Float32Array> {
    const current = this.frames('encode', 'frames', frames);
    const before = previous === undefined ? undefined : this.frames('encode', 'previous', previous);
    if (before && before.n !== current.n) throw new TrajforgeError('E_MODEL_SHAPE', `encode: frames holds ${current.n} frame(s) but previous holds ${before.n}; pass one predecessor per frame`);
    return this.live('encode').encode(current.data, current.n, before?.data);
  }

  async encodeSequence(frames: Frames): Promise<Float32Array> {
    const { data, n } = this.frames('encodeSequence', 'frames', frames);
    return this.live('encodeSequence').encodeSequences(data, [n]);
  }

  /** Encoder-input frames (floats, or bytes the session scales a chunk at a time) and their count, or E_MODEL_SHAPE naming the argument. */
  private frames(method: string, name: string, x: Frames): { data: Float32Array | Uint8Array; n: number } {
    const { width, height } = this.input;
    const n = this.rows(method, name, x, width * height * 3, `${width}x${height}x3 frames (the encoder's input, camera '${this.camera}')`, true);
    return { data: x instanceof Uint8ClampedArray ? new Uint8Array(x.buffer, x.byteOffset, x.byteLength) : x, n };
  }

  async step(z: Float32Array, actions: Float32Array): Promise<WorldModelStep> {
    const n = this.rows('step', 'z', z, this.latent, `latents of ${this.latent}`);
    const m = this.rows('step', 'actions', actions, this.actionDim, `actions of ${this.actionDim} (${this.actionNames.join(', ')})`);
    if (m !== n) throw new TrajforgeError('E_MODEL_SHAPE', `step: z holds ${n} latent(s) but actions holds ${m} action(s); pass one action per latent (N × ${this.actionDim} values for N × ${this.latent})`);
    const { next, reward, done } = await this.live('step').step(z, actions, n);
    return { z: next, reward, done };
  }

  async decode(z: Float32Array): Promise<Float32Array> {
    const n = this.rows('decode', 'z', z, this.latent, `latents of ${this.latent}`);
    return this.live('decode').decode(z, n);
  }

  async inverse(z0: Float32Array, z1: Float32Array): Promise<Float32Array> {
    const n = this.rows('inverse', 'z0', z0, this.latent, `latents of ${this.latent}`);
    const m = this.rows('inverse', 'z1', z1, this.latent, `latents of ${this.latent}`);
    if (m !== n) throw new TrajforgeError('E_MODEL_SHAPE', `inverse: z0 holds ${n} latent(s) but z1 holds ${m}; pass pairs (z_t, z_t+1) row by row`);
    return this.live('inverse').inverse(z0, z1, n);
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }

  private live(method: string): WorldModelSession {
    if (!this.session) throw new TrajforgeError('E_USAGE', `${method}: the world model of ${this.dir} was disposed; load it again with loadWorldModel`);
    return this.session;
  }

  /** Rows of `width` values in `data`, or E_MODEL_SHAPE naming the argument and the expected row. */
  private rows(method: string, name: string, data: unknown, width: number, what: string, bytesToo = false): number {
    const ok = data instanceof Float32Array || (bytesToo && (data instanceof Uint8Array || data instanceof Uint8ClampedArray));
    if (!ok) {
      const found = ArrayBuffer.isView(data) ? data.constructor.name : Array.isArray(data) ? 'a plain array' : typeof data;
      throw new TrajforgeError('E_MODEL_SHAPE', `${method}: ${name} must be a Float32Array${bytesToo ? ' or a Uint8Array of rgb bytes' : ''}, got ${found}`);
    }
    const length = (data as Float32Array).length;
    if (length === 0 || length % width !== 0) {
      throw new TrajforgeError('E_MODEL_SHAPE', `${method}: ${name} has ${length} values, not a whole number (>= 1) of ${what}: N × ${width} values expected`);
    }
    return length / width;
  }
}

