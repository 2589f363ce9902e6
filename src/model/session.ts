/**
 * A loaded world model: the four ONNX graphs in onnxruntime-node sessions behind batch-friendly
 * methods on flat Float32Arrays. Inference always goes through here (and so through ONNX).
 */
import { TrajforgeError } from '../core/errors.js';
import type { ModelCard } from './card.js';
import { decoderBytesFragment, PART_NAMES, PREVIOUS_INDEX, type PartName } from './export.js';
import { OnnxModel, type GraphRunner, type OnnxModelOptions } from './onnx/runtime.js';
import { unitFrames, unitInto } from './transitions.js';

/**
 * Rows per onnxruntime call: large enough to amortise call overhead, small enough for cache. The
 * sprite decoder's intermediates stay in cache at 64 rows (58k frames/s there, 45k at 256).
 */
const CHUNK: Record<PartName, number> = { encoder: 64, decoder: 64, dynamics: 256, inverse: 256 };

/**
 * Rows per call of the conv model's encoder on one thread. Its full-resolution keypoint maps
 * (512 KB a frame at 32 keypoints) stay in the cores' caches at a few frames a call: 2,370
 * frames/s at 8 against 2,030 at 16 and 1,590 at 64 (PushCube's model, one thread, the graph
 * alone; each call also encodes its first frame's predecessor, one row in 9 at 8), and through
 * encodeSequences 1,610–1,670 against 1,270–1,460 at 64 (interleaved runs). The decoder gains
 * nothing from it (decodeRgb 1,930–2,290 at 8, 2,240–2,290 at 64). One session on several
 * threads needs larger calls to keep its threads busy (label's model time 5.6 s at 64 against
 * 6.5 at 16 on two).
 */
const CONV_CHUNK_ONE_THREAD = 8;

/** Rows per call of `part` for a session on `threads` onnxruntime threads. */
function chunkRows(card: ModelCard, part: PartName, threads: number): number {
  return card.kind === 'conv' && threads <= 1 && part === 'encoder' ? CONV_CHUNK_ONE_THREAD : CHUNK[part];
}

/** What loading a world model takes besides onnxruntime's options. */
export interface WorldModelSessionOptions extends OnnxModelOptions {
  /**
   * Runs the encoder and the decoder in `count` worker threads each (one onnxruntime thread
   * apiece; see parallel/session-pool.ts, whose modelWorkers gives this option): the chunks of
   * a call then run side by side. The encoder's workers start with the session, the decoder's on
   * its first use. Absent: every part runs on the calling thread.
   */
  readonly workers?: { count: number; start: (bytes: Uint8Array, count: number, onnx: OnnxModelOptions) => Promise<GraphRunner> };
}

/** At most `limit` promises pending: add() waits for the oldest beyond that; drain() for all. */
class InFlight {
  private readonly pending: Promise<void>[] = [];
  constructor(private readonly limit: number) {}
  async add(p: Promise<void>): Promise<void> {
    // Awaited in order below; until then a failure must not count as unhandled.
    p.catch(() => undefined);
    this.pending.push(p);
    if (this.pending.length >= this.limit) await this.pending.shift();
  }
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }
}

export class WorldModelSession {
  /** The decoder with a bytes output appended (decoderBytesFragment), loaded on first use. */
  private decoderBytes?: Promise<GraphRunner>;
  /** The decoder in worker threads (WorldModelSessionOptions.workers), started on first use. */
  private decoderPool?: Promise<GraphRunner>;
  /** How the encoder takes each frame's predecessor: not at all (context 1), by row (previous_index), or as pixels (previous: models of an earlier release). */
  private readonly predecessors: 'none' | 'index' | 'frames';
  /** Rows per call of each part (see chunkRows). */
  private readonly chunks: Record<PartName, number>;

  private constructor(
    readonly card: ModelCard,
    private readonly parts: Record<PartName, OnnxModel>,
    /** Runs the encoder: parts.encoder, or a pool of workers (WorldModelSessionOptions.workers). */
    private readonly encoderRunner: GraphRunner,
    /** decoder.onnx as loaded, extended into decoderBytes on first use. */
    private readonly decoderGraph: Uint8Array,
    private readonly options: OnnxModelOptions,
    private readonly workers: WorldModelSessionOptions['workers'],
  ) {
    const names = card.parts.encoder.inputs.map((i) => i.name);
    this.predecessors = names.includes(PREVIOUS_INDEX) ? 'index' : names.includes('previous') ? 'frames' : 'none';
    const threads = options.threads ?? 1;
    this.chunks = { encoder: chunkRows(card, 'encoder', encoderRunner === parts.encoder ? threads : 1), decoder: chunkRows(card, 'decoder', threads), dynamics: CHUNK.dynamics, inverse: CHUNK.inverse };
  }

  /**
   * Loads the four parts; `dir` (the model directory) names files in errors. Each graph must have
   * the inputs and outputs its card declares: a damaged file or a card edited by hand is refused
   * here, naming the file, rather than failing later inside onnxruntime.
   */
  static async load(card: ModelCard, bytes: Record<PartName, Uint8Array>, sessionOptions: WorldModelSessionOptions = {}, dir?: string): Promise<WorldModelSession> {
    const { workers, ...options } = sessionOptions;
    const parts = {} as Record<PartName, OnnxModel>;
    let encoderRunner: GraphRunner | undefined;
    try {
      for (const p of PART_NAMES) {
        const file = dir ? `${dir}/${card.parts[p].file}` : card.parts[p].file;
        try {
          parts[p] = await OnnxModel.load(bytes[p], options);
        } catch (e) {
          const msg = (e as Error).message;
          // A provider the machine lacks fails every part alike; only a per-file failure is the file's fault.
          if (options.providers?.some((x) => x !== 'cpu')) throw e;
          throw new TrajforgeError('E_MODEL_SHAPE', `${file}: not a loadable ONNX model (${msg}); the file is damaged: restore it or retrain (trajforge train)`, { file });
        }
        checkSignature(parts[p], card.parts[p], file);
      }
      encoderRunner = workers && workers.count > 0 ? await workers.start(bytes.encoder, workers.count, options) : parts.encoder;
    } catch (e) {
      for (const m of Object.values(parts)) await m.release();
      throw e;
    }
    return new WorldModelSession(card, parts, encoderRunner, bytes.decoder, options, workers && workers.count > 0 ? workers : undefined);
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

  /**
   * Runs `model` over n rows in chunks of `chunk` rows (side by side when it runs in workers);
   * inputs are [name, data, row shape], outputs [name, row width]. A single chunk returns
   * onnxruntime's own (fresh) arrays, without a copy.
   */
  private async chunked<T extends Float32Array | Uint8Array>(
    model: GraphRunner,
    n: number,
    inputs: [string, Float32Array, number[]][],
    outputs: [string, number][],
    cast: (data: Float32Array | Uint8Array, name: string) => T,
    alloc: (length: number) => T,
    chunk: number,
  ): Promise<T[]> {
    const fetch = outputs.map(([name]) => name);
    const run = async (from: number, m: number) => {
      const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const [name, data, rowShape] of inputs) {
        const width = rowShape.reduce((a, b) => a * b, 1);
        feeds[name] = { data: data.subarray(from * width, (from + m) * width), dims: [m, ...rowShape] };
      }
      const out = await model.run(feeds, fetch);
      return fetch.map((name) => cast(out[name]!.data, name));
    };
    if (n <= chunk) return run(0, n);
    const results = outputs.map(([, w]) => alloc(n * w));
    // Twice the workers in flight: each has its next call queued when it finishes one.
    const inFlight = new InFlight(2 * model.concurrency);
    for (let from = 0; from < n; from += chunk) {
      const m = Math.min(chunk, n - from);
      await inFlight.add(run(from, m).then((parts) => parts.forEach((data, i) => results[i]!.set(data.subarray(0, m * outputs[i]![1]), from * outputs[i]![1]))));
    }
    await inFlight.drain();
    return results;
  }

  private async batched(part: PartName, n: number, inputs: [string, Float32Array, number[]][], outputs: [string, number][]): Promise<Float32Array[]> {
    const model = part === 'decoder' && this.workers ? await (this.decoderPool ??= this.workers.start(this.decoderGraph, this.workers.count, this.options)) : this.parts[part];
    return this.chunked(model, n, inputs, outputs, floats, (length) => new Float32Array(length), this.chunks[part]);
  }

  /** Frames per encoder input (model.json input.context): 2 when z holds velocities. */
  get context(): number {
    return encoderContext(this.card);
  }

  /**
   * Frames [n, H, W, 3] -> z. A model with context 2 also takes each frame's predecessor
   * (`previous`, same layout); without it every frame counts as its own predecessor (at rest).
   * Frames are floats in [0, 1] or rgb bytes (see encodeSequences).
   */
  async encode(frames: EncoderFrames, n: number, previous?: EncoderFrames): Promise<Float32Array> {
    // One batch holds one kind of value: bytes beside floats are scaled first.
    if (previous !== undefined && frames instanceof Uint8Array !== previous instanceof Uint8Array) {
      frames = asFloats(frames);
      previous = asFloats(previous);
    }
    if (this.predecessors === 'index') {
      const per = this.framePixels;
      // A lone pair is two rows: the frame's predecessor is row n + i, itself its own predecessor.
      return previous === undefined
        ? this.encodeIndexed((i) => frames.subarray(i * per, (i + 1) * per), n, (i) => i)
        : this.encodeIndexed((i) => (i < n ? frames.subarray(i * per, (i + 1) * per) : previous.subarray((i - n) * per, (i - n + 1) * per)), n, (i) => n + i);
    }
    const { height, width } = this.card.input;
    const inputs: [string, Float32Array, number[]][] = [['frames', asFloats(frames), [height, width, 3]]];
    if (this.predecessors === 'frames') inputs.push(['previous', asFloats(previous ?? frames), [height, width, 3]]);
    return (await this.batched('encoder', n, inputs, [['z', this.latent]]))[0]!;
  }

  /**
   * Consecutive frames of sequences of the given lengths: back to back in one array, or one array
   * per sequence (no copy into one batch). Each frame's predecessor is the one before it in its
   * sequence. Frames are floats in [0, 1] or rgb bytes; bytes are converted a chunk at a time, so
   * a large batch never exists as floats (4 bytes a value).
   */
  async encodeSequences(frames: EncoderFrames | readonly EncoderFrames[], lengths: readonly number[]): Promise<Float32Array> {
    const n = lengths.reduce((a, b) => a + Math.max(0, b), 0);
    const per = this.framePixels;
    if (this.predecessors === 'index') {
      const starts = new Uint8Array(n);
      /** Per row: its sequence, and its row within it. */
      const sequence = new Int32Array(n);
      const within = new Int32Array(n);
      let row = 0;
      lengths.forEach((len, s) => {
        if (len > 0) starts[row] = 1;
        for (let k = 0; k < len; k++, row++) {
          sequence[row] = s;
          within[row] = k;
        }
      });
      const rowOf = isFrameList(frames) ? (i: number) => frames[sequence[i]!]!.subarray(within[i]! * per, (within[i]! + 1) * per) : (i: number) => frames.subarray(i * per, (i + 1) * per);
      return this.encodeIndexed(rowOf, n, (i) => (starts[i] ? i : i - 1));
    }
    const floats = asFloats(isFrameList(frames) ? concatFrames(frames, lengths, per) : frames);
    return this.encode(floats, n, this.predecessors === 'frames' ? predecessorFrames(floats, per, lengths) : undefined);
  }

  private get framePixels(): number {
    return this.card.input.width * this.card.input.height * 3;
  }

  /**
   * z of rows 0..n-1, where row(i) is a frame and predecessor(i) the row holding its predecessor
   * (any row, including rows >= n that are only predecessors). Each chunk of the encoder carries
   * its rows plus the predecessors it lacks, so consecutive frames cost one extra row a chunk.
   */
  private async encodeIndexed(row: (i: number) => EncoderFrames, n: number, predecessor: (i: number) => number): Promise<Float32Array> {
    const { height, width } = this.card.input;
    const per = this.framePixels;
    const L = this.latent;
    const chunk = this.chunks.encoder;
    const runner = this.encoderRunner;
    const z = new Float32Array(n * L);
    // Rgb bytes go to workers as bytes (each scales its own); on this thread they are scaled into
    // one reused float batch, not a fresh array a call.
    const bytes = runner.concurrency > 1 && n > 0 && row(0) instanceof Uint8Array;
    const alloc = (length: number) => (bytes ? new Uint8Array(length) : new Float32Array(length));
    // Side by side, every call in flight needs its own input (a worker takes its buffers).
    const shared = runner.concurrency === 1 ? { batch: alloc(2 * chunk * per), index: new BigInt64Array(2 * chunk) } : null;
    // Twice the workers in flight, so each has its next call queued when it finishes one; one at a
    // time when every call fills the shared batch.
    const inFlight = new InFlight(shared ? 1 : 2 * runner.concurrency);
    for (let from = 0; from < n; from += chunk) {
      const m = Math.min(chunk, n - from);
      /** Predecessors outside the chunk -> their row in the batch, after the chunk's own. */
      const extra = new Map<number, number>();
      const localRow = (p: number) => {
        if (p >= from && p < from + m) return p - from;
        if (!extra.has(p)) extra.set(p, m + extra.size);
        return extra.get(p)!;
      };
      // Predecessors first: the rows they add size the call's own batch.
      const indices = Array.from({ length: m }, (_, k) => localRow(predecessor(from + k)));
      const rows = m + extra.size;
      const batch = shared ? shared.batch.subarray(0, rows * per) : alloc(rows * per);
      const index = shared ? shared.index.subarray(0, rows) : new BigInt64Array(rows);
      indices.forEach((local, k) => {
        index[k] = BigInt(local);
        copyFrame(row(from + k), batch, k * per);
      });
      for (const [p, local] of extra) {
        index[local] = BigInt(local);
        copyFrame(row(p), batch, local * per);
      }
      // A call's own batch (not the shared one) is handed over: a worker takes it without a copy.
      const done = runner.run({ frames: { data: batch, dims: [rows, height, width, 3] }, [PREVIOUS_INDEX]: { data: index, dims: [rows] } }, ['z'], !shared).then((out) => {
        z.set(floats(out.z!.data, 'z').subarray(0, m * L), from * L);
      });
      await inFlight.add(done);
    }
    await inFlight.drain();
    return z;
  }

  async decode(z: Float32Array, n: number): Promise<Float32Array> {
    return (await this.batched('decoder', n, [['z', z, [this.latent]]], [['frames', this.pixels]]))[0]!;
  }

  /**
   * Decoded frames as rgb bytes: round(255 · (decode(z) + offset)) saturated to [0, 255], in the
   * decoder's own session (see decoderBytesFragment; the offset carries residual decoding).
   */
  async decodeRgb(z: Float32Array, offset: Float32Array, n: number): Promise<Uint8Array> {
    const { width, height } = this.card.decoded;
    const graph = () => decoderBytesFragment(width, height, this.card.parts.decoder.outputs[0]!.name).appendTo(this.decoderGraph);
    this.decoderBytes ??= this.workers ? this.workers.start(graph(), this.workers.count, this.options) : OnnxModel.load(graph(), this.options);
    const model = await this.decoderBytes;
    const inputs: [string, Float32Array, number[]][] = [
      ['z', z, [this.latent]],
      ['offset', offset, [height, width, 3]],
    ];
    return (await this.chunked(model, n, inputs, [['rgb', this.pixels]], bytes, (length) => new Uint8Array(length), this.chunks.decoder))[0]!;
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
    if (this.encoderRunner !== this.parts.encoder) await this.encoderRunner.release();
    // A pool that failed to start has nothing to release.
    for (const p of [this.decoderPool, this.decoderBytes]) await p?.then((r) => r.release(), () => undefined);
  }
}

function bytes(data: Float32Array | Uint8Array, name: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TrajforgeError('E_MODEL_SHAPE', `model output '${name}' is not uint8`);
  return data;
}

/** Encoder input frames: floats in [0, 1], or rgb bytes scaled on the way in. */
export type EncoderFrames = Float32Array | Uint8Array;

function isFrameList(frames: EncoderFrames | readonly EncoderFrames[]): frames is readonly EncoderFrames[] {
  return Array.isArray(frames);
}

/** Sequences' frames back to back in one array (of the first sequence's kind; floats when they differ). */
function concatFrames(frames: readonly EncoderFrames[], lengths: readonly number[], per: number): EncoderFrames {
  const bytes = frames.every((f) => f instanceof Uint8Array);
  const size = lengths.reduce((a, b) => a + Math.max(0, b), 0) * per;
  const out = bytes ? new Uint8Array(size) : new Float32Array(size);
  let at = 0;
  lengths.forEach((len, s) => {
    if (len <= 0) return;
    const part = frames[s]!.subarray(0, len * per);
    if (bytes || part instanceof Float32Array) out.set(part, at);
    else unitInto(part, out as Float32Array, at);
    at += len * per;
  });
  return out;
}

/** A frame into the encoder's batch: as it is, or rgb bytes scaled to [0, 1] into a float batch. */
function copyFrame(frame: EncoderFrames, batch: EncoderFrames, offset: number): void {
  if (frame instanceof Uint8Array && batch instanceof Float32Array) unitInto(frame, batch, offset);
  else if (frame instanceof Float32Array && batch instanceof Uint8Array) throw new TrajforgeError('E_INTERNAL', 'encoder: float frames among rgb bytes');
  else batch.set(frame, offset);
}

function asFloats(frames: EncoderFrames): Float32Array {
  return frames instanceof Float32Array ? frames : unitFrames(frames);
}

function floats(data: Float32Array | Uint8Array, name: string): Float32Array {
  if (!(data instanceof Float32Array)) throw new TrajforgeError('E_MODEL_SHAPE', `model output '${name}' is not float32`);
  return data;
}

/** Frames per encoder input a card declares (1 when absent). */
export function encoderContext(card: ModelCard): number {
  return card.input.context ?? 1;
}

/**
 * Each frame's predecessor (the frame itself at the start of a sequence) for frames of sequences
 * of the given lengths stored back to back, `per` values a frame: the encoder's `previous` input.
 */
export function predecessorFrames(frames: Float32Array, per: number, lengths: readonly number[]): Float32Array {
  const out = new Float32Array(frames.length);
  let row = 0;
  for (const n of lengths) {
    if (n <= 0) continue;
    out.set(frames.subarray(row * per, (row + 1) * per), row * per);
    if (n > 1) out.set(frames.subarray(row * per, (row + n - 1) * per), (row + 1) * per);
    row += n;
  }
  return out;
}

/** Throws unless a loaded graph has exactly the card's tensors, with the card's fixed dims. */
function checkSignature(model: OnnxModel, declared: ModelCard['parts'][PartName], file: string): void {
  const actual = model.signature();
  for (const side of ['inputs', 'outputs'] as const) {
    for (const t of declared[side]) {
      const found = actual[side].find((a) => a.name === t.name);
      const fixed = (dims: readonly (number | string)[] | undefined) => (dims ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ');
      const want = t.shape.map((d) => (typeof d === 'number' ? d : '?')).join(', ');
      if (!found || (found.shape && fixed(found.shape) !== want)) {
        throw new TrajforgeError(
          'E_MODEL_SHAPE',
          `${file}: the model card (model.json) declares ${side.slice(0, -1)} '${t.name}' [${want}], the graph has ${found ? `[${fixed(found.shape)}]` : `no such ${side.slice(0, -1)} (${actual[side].map((a) => a.name).join(', ')})`}; the card and the ONNX files do not belong together: retrain or restore them`,
          { file },
        );
      }
    }
  }
}
