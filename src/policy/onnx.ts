/**
 * A learned policy as an ONNX graph (observation -> action), run by onnxruntime. The convention:
 * the graph's one float input is [N, D] or [D] (N symbolic or 1), its first float output [N, A] or
 * [A]. An input named `latent` (or, when a world model is given, as wide as its latent) reads the
 * model's latent z_t instead of the observation: such a policy runs in a dream.
 *
 * Loading (bytes in, checked against the environment) is separate from acting; reading the file
 * is ./load.ts's, so this module stays free of I/O.
 */
import { TrajforgeError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Action, Space } from '../core/spaces.js';
import { OnnxModel, type SignatureEntry } from '../model/onnx/runtime.js';
import type { AnyPolicy } from './policy.js';

export interface OnnxPolicyOptions {
  /** The file the graph came from, named in every error. */
  file: string;
  /** The environment's observation size (D of an observation policy). */
  observationSize: number;
  /** The environment's action space: a box (outputs clipped to it) or a discrete set. */
  action: Space;
  /**
   * A world model's latent size, when the policy acts in its dream: then an input of that width
   * (or named `latent`) is a latent policy. Without it, a latent policy is refused.
   */
  latent?: number;
  /** Gaussian action noise as a fraction of each dimension's half-range (continuous actions), as the expert's `--noise`. Default 0. */
  noise?: number;
  /** Probability of a uniform random action per step, as the expert's `--epsilon`. Default 0. */
  epsilon?: number;
}

/** What a policy graph reads and writes, as found at load. */
export interface OnnxPolicyIo {
  input: { name: string; kind: 'observation' | 'latent'; width: number; rank: 1 | 2 };
  /** `declared`: the width is the graph's own; otherwise the first run measures it. */
  output: { name: string; width: number; declared: boolean };
}

/**
 * An ONNX graph acting as a policy. `act` returns a promise (onnxruntime's calls are
 * asynchronous); the graph runs on one row at a time, so an action never depends on what other
 * episodes do. `fork()` gives a policy with its own random stream over the same session, for
 * episodes that run side by side (a dream's batch).
 */
export class OnnxPolicy implements AnyPolicy {
  readonly name = 'onnx';
  private rng = new Rng(0);

  private constructor(
    private readonly model: OnnxModel,
    readonly io: OnnxPolicyIo,
    private readonly space: Space,
    private readonly file: string,
    private readonly noise: number,
    private readonly epsilon: number,
  ) {}

  /** Loads a graph and checks it against the environment; every mismatch is E_POLICY_INVALID naming the file. */
  static async load(bytes: Uint8Array, opts: OnnxPolicyOptions): Promise<OnnxPolicy> {
    const { file } = opts;
    const noise = opts.noise ?? 0;
    const epsilon = opts.epsilon ?? 0;
    if (!(noise >= 0) || !(epsilon >= 0 && epsilon <= 1)) throw invalid(file, `noise must be >= 0 and epsilon in [0, 1], got noise ${noise} and epsilon ${epsilon}; fix --noise / --epsilon`);
    if (noise > 0 && opts.action.type === 'discrete') throw invalid(file, `--noise applies to continuous actions; this environment's actions are a discrete set (use --epsilon for random choices)`);
    let model: OnnxModel;
    try {
      model = await OnnxModel.load(bytes, { threads: 1 });
    } catch (e) {
      throw invalid(file, `not a loadable ONNX model (${(e as Error).message}); the file is damaged or not ONNX: re-export it (trajforge bc writes one)`);
    }
    try {
      const io = policyIo(model.signature(), opts);
      const policy = new OnnxPolicy(model, io, opts.action, file, noise, epsilon);
      await policy.probe();
      return policy;
    } catch (e) {
      await model.release();
      throw e;
    }
  }

  get input(): 'observation' | 'latent' {
    return this.io.input.kind;
  }

  reset(seed: number): void {
    this.rng = new Rng(seed);
  }

  async act(obs: Float32Array): Promise<Action> {
    const { input, output } = this.io;
    if (obs.length !== input.width) throw invalid(this.file, `the policy takes ${input.width} ${input.kind} values, got ${obs.length}`);
    // A copy: onnxruntime reads its feeds after this call returns, and callers reuse their buffers.
    const data = Float32Array.from(obs);
    const out = await this.model.run({ [input.name]: { data, dims: input.rank === 2 ? [1, input.width] : [input.width] } }, [output.name]);
    return this.toAction(out[output.name]!.data as Float32Array);
  }

  /** A policy over the same session with its own random stream (reset it before use). */
  fork(): OnnxPolicy {
    return new OnnxPolicy(this.model, this.io, this.space, this.file, this.noise, this.epsilon);
  }

  /** Releases the onnxruntime session, which forks share. */
  async dispose(): Promise<void> {
    await this.model.release();
  }

  /** The graph's output as an action: clipped to the box, or a choice (argmax, or one rounded value). */
  private toAction(y: Float32Array): Action {
    for (const v of y) if (!Number.isFinite(v)) throw invalid(this.file, `the graph produced a non-finite action (${Array.from(y).join(', ')}); check the exported weights`);
    const explore = this.epsilon > 0 && this.rng.next() < this.epsilon;
    const space = this.space;
    if (space.type === 'discrete') {
      if (explore) return this.rng.int(space.n);
      if (y.length === 1) return Math.min(space.n - 1, Math.max(0, Math.round(y[0]!)));
      let best = 0;
      for (let i = 1; i < y.length; i++) if (y[i]! > y[best]!) best = i;
      return best;
    }
    const out = new Float32Array(y.length);
    for (let k = 0; k < y.length; k++) {
      const lo = space.low[k]!;
      const hi = space.high[k]!;
      let v = explore ? this.rng.uniform(lo, hi) : y[k]!;
      if (this.noise > 0) v += this.rng.normal() * this.noise * 0.5 * (hi - lo);
      out[k] = Math.min(hi, Math.max(lo, v));
    }
    return out;
  }

  /**
   * One run on zeros: a graph whose declared shapes hide a mismatch (symbolic widths) or that
   * fails inside onnxruntime is refused at load, not at the first step of an episode.
   */
  private async probe(): Promise<void> {
    const { input, output } = this.io;
    let y: Float32Array;
    try {
      const out = await this.model.run({ [input.name]: { data: new Float32Array(input.width), dims: input.rank === 2 ? [1, input.width] : [input.width] } }, [output.name]);
      y = out[output.name]!.data as Float32Array;
    } catch (e) {
      throw invalid(this.file, `the graph does not run on one ${input.kind} of ${input.width} values (${(e as Error).message}); export it for this environment`);
    }
    if (y.length === output.width) return;
    if (output.declared || !fitsActions(this.space, y.length)) {
      throw invalid(this.file, `output '${output.name}' gives ${y.length} values for one ${input.kind}, expected ${expectedActions(this.space)}; export it for this environment's action space`);
    }
    // A symbolic width: what the graph gives decides (a discrete set takes n scores or 1 index).
    this.io.output.width = y.length;
  }
}

/** The input and output a policy graph is run through, checked against the environment's sizes. */
export function policyIo(sig: { inputs: SignatureEntry[]; outputs: SignatureEntry[] }, opts: OnnxPolicyOptions): OnnxPolicyIo {
  const { file } = opts;
  const describe = (entries: SignatureEntry[]) => entries.map((e) => `${e.name} ${e.type ?? 'non-tensor'} [${(e.shape ?? []).join(', ')}]`).join(', ') || 'none';
  const input = sig.inputs.find((e) => e.type === 'float32');
  if (!input) throw invalid(file, `the graph has no float input (inputs: ${describe(sig.inputs)}); a policy graph takes one float32 input [N, D] or [D]`);
  if (sig.inputs.length > 1) throw invalid(file, `the graph has ${sig.inputs.length} inputs (${describe(sig.inputs)}); a policy graph takes exactly one, the observation (or latent) [N, D] or [D]`);
  const output = sig.outputs.find((e) => e.type === 'float32');
  if (!output) throw invalid(file, `the graph has no float output (outputs: ${describe(sig.outputs)}); a policy graph gives the action as a float32 output [N, A] or [A]`);

  const inShape = rowShape(input, file, 'input');
  const outShape = rowShape(output, file, 'output');
  const D = opts.observationSize;
  const L = opts.latent;
  const latent = input.name === 'latent' || (input.name !== 'observation' && L !== undefined && inShape.width === L && inShape.width !== D);
  if (latent && L === undefined) {
    throw invalid(file, `input '${input.name}' [${(input.shape ?? []).join(', ')}] is a world model's latent: latent policies run in \`trajforge dream\`, which gives them the model's latent z_t; generate feeds observations, so export a policy over observation.state (${D} values) for it`);
  }
  const width = latent ? L! : D;
  if (typeof inShape.width === 'number' && inShape.width !== width) {
    const what = latent ? `the world model's latent has ${L} values` : `the environment's observation has ${D} values${L !== undefined ? ` (and the world model's latent ${L})` : ''}`;
    throw invalid(file, `input '${input.name}' takes ${inShape.width} values, but ${what}; train or export the policy for this environment${L !== undefined ? ' and model' : ''} (trajforge bc)`);
  }
  if (typeof outShape.width === 'number' && !fitsActions(opts.action, outShape.width)) {
    throw invalid(file, `output '${output.name}' gives ${outShape.width} values, but the environment expects ${expectedActions(opts.action)}; train or export the policy for this environment (trajforge bc)`);
  }
  const declared = typeof outShape.width === 'number';
  const A = opts.action.type === 'box' ? opts.action.shape[0] : opts.action.n;
  return { input: { name: input.name, kind: latent ? 'latent' : 'observation', width, rank: inShape.rank }, output: { name: output.name, width: declared ? (outShape.width as number) : A, declared } };
}

/** A box takes one value per dimension; a discrete set n scores (argmax) or one index. */
function fitsActions(space: Space, width: number): boolean {
  return space.type === 'box' ? width === space.shape[0] : width === space.n || width === 1;
}

/** [N, W] (N symbolic or 1) or [W]; W a number, or a string where the graph leaves it symbolic. */
function rowShape(e: SignatureEntry, file: string, side: 'input' | 'output'): { rank: 1 | 2; width: number | string } {
  const shape = e.shape ?? [];
  const known = (d: number | string) => typeof d === 'number' && d >= 0;
  if (shape.length === 1) return { rank: 1, width: known(shape[0]!) ? shape[0]! : String(shape[0]) };
  if (shape.length === 2 && (!known(shape[0]!) || shape[0] === 1)) return { rank: 2, width: known(shape[1]!) ? shape[1]! : String(shape[1]) };
  throw invalid(file, `${side} '${e.name}' has shape [${shape.join(', ')}]; a policy graph's ${side} is [N, ${side === 'input' ? 'D' : 'A'}] (N symbolic or 1) or [${side === 'input' ? 'D' : 'A'}]`);
}

function expectedActions(space: Space): string {
  return space.type === 'box' ? `${space.shape[0]} action values (${space.names.join(', ')})` : `${space.n} choice scores (argmax) or 1 choice index (${space.names.join(', ')})`;
}

function invalid(file: string, message: string): TrajforgeError {
  return new TrajforgeError('E_POLICY_INVALID', `${file}: ${message}`, { file });
}
