import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { asIoError } from '../../core/errors.js';
import { Proto } from '../../core/proto.js';
import type { EpisodeData } from '../../dataset/episode.js';
import { pngBytes as encodePng } from '../png.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { fileBytes, sizeProblem } from '../../dataset/journal.js';
import { escapeRegExp } from '../../output/folder.js';
import { JournaledSink, type Intact, type JournalEntry } from '../../dataset/sink.js';
import type { DatasetMeta } from '../../dataset/meta.js';

/**
 * RLDS / TFDS dataset (the Open X-Embodiment layout): DIR/<name>/1.0.0/ with dataset_info.json,
 * features.json and `<name>-train.tfrecord-00000-of-00001`, one tf.train.Example per episode with
 * flattened `steps/...` keys (all steps stacked in one list) and `episode_metadata/...`;
 * `tfds.builder_from_directory(DIR/<name>/1.0.0)` loads it. Steps follow RLDS: T + 1 steps, step t
 * holds observation t, the action taken there and the reward it earned; the last step's action
 * and reward are zeros (invalid), `is_terminal` marks a terminated (not truncated) episode.
 * Images are PNG per step. Records use TFRecord framing with masked CRC32C.
 */
const VERSION = '1.0.0';
const PROGRESS = '.trajforge-rlds';

/**
 * How many journaled episodes have their record in the shard: record i must start where record
 * i - 1 ends, carry a length header whose masked CRC checks out, and end at the journaled offset.
 * Reads 12 bytes per record, so resuming a large shard stays cheap.
 */
function intactRecords(shard: string, entries: readonly { end: number }[]): number {
  const size = fileBytes(shard);
  if (size < 0) return 0;
  const fd = openSync(shard, 'r');
  try {
    const head = new Uint8Array(12);
    let start = 0;
    for (const [i, e] of entries.entries()) {
      if (typeof e.end !== 'number' || e.end > size || readSync(fd, head, 0, 12, start) !== 12) return i;
      const dv = new DataView(head.buffer);
      const length = Number(dv.getBigUint64(0, true));
      if (dv.getUint32(8, true) !== maskedCrc(head.subarray(0, 8)) || start + 12 + length + 4 !== e.end) return i;
      start = e.end;
    }
    return entries.length;
  } finally {
    closeSync(fd);
  }
}

export function rldsName(envId: string): string {
  return envId.replace(/-v\d+$/, '').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class RldsSink extends JournaledSink<Uint8Array, { end: number }> {
  protected readonly progress = PROGRESS;
  private fd = -1;

  private get shard(): string {
    return join(this.dir, rldsName(this.meta.envId), VERSION, `${rldsName(this.meta.envId)}-train.tfrecord-00000-of-00001`);
  }

  entries(meta: DatasetMeta): string[] {
    return [`${escapeRegExp(rldsName(meta.envId))}/\\d+\\.\\d+\\.\\d+/(features\\.json|dataset_info\\.json|[^/]+\\.tfrecord-\\d+-of-\\d+)`];
  }

  /** The episode's TFRecord record: one tf.train.Example, framed. */
  encode(ep: EpisodeData, meta: DatasetMeta): Uint8Array {
    return tfrecord(exampleBytes(episodeFeatures(ep, meta)));
  }

  protected override intact(lines: readonly (JournalEntry & { end: number })[]): Intact {
    const tmp = `${this.shard}.tmp`;
    const valid = intactRecords(tmp, lines);
    if (valid === lines.length) return { count: valid };
    const label = `${rldsName(this.meta.envId)}-train.tfrecord-00000-of-00001.tmp`;
    const expected = lines[lines.length - 1]!.end;
    // A shard shorter than the journal says is named as such; one long enough holds a damaged record.
    const short = fileBytes(tmp) < expected ? sizeProblem(tmp, expected, label) : null;
    return { count: valid, problem: short ?? `${label} record of episode ${valid} damaged` };
  }

  /** Exactly the records of the kept episodes stay: a torn or unjournaled tail is cut off. */
  protected override start(kept: readonly (JournalEntry & { end: number })[]): void {
    mkdirSync(join(this.shard, '..'), { recursive: true });
    const tmp = `${this.shard}.tmp`;
    const end = kept.length ? kept[kept.length - 1]!.end : 0;
    if (end > 0) truncateSync(tmp, end);
    this.fd = openSync(tmp, end > 0 ? 'a' : 'w');
  }

  protected commit(record: Uint8Array): { end: number } {
    try {
      // A short write is a full disk too: the journal must never vouch for a torn record.
      if (writeSync(this.fd, record) !== record.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    } catch (e) {
      throw asIoError(e, `${this.shard}.tmp`);
    }
    return { end: fstatSync(this.fd).size };
  }

  protected finish(): number {
    closeSync(this.fd);
    this.fd = -1;
    renameSync(`${this.shard}.tmp`, this.shard);
    const name = rldsName(this.meta.envId);
    const root = join(this.shard, '..');
    writeFileAtomic(join(root, 'features.json'), `${JSON.stringify(featuresJson(this.meta), null, 2)}\n`);
    writeFileAtomic(
      join(root, 'dataset_info.json'),
      `${JSON.stringify(
        {
          name,
          version: VERSION,
          description: `${this.meta.envId} episodes generated by trajforge (config ${this.meta.configHash}).${provenance(this.meta)}`,
          fileFormat: 'tfrecord',
          moduleName: `trajforge.${name}`,
          splits: [{ name: 'train', filepathTemplate: '{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}', shardLengths: [String(this.episodes)], numBytes: String(statSync(this.shard).size) }],
        },
        null,
        2,
      )}\n`,
    );
    return statSync(this.shard).size;
  }

  override async abort(): Promise<void> {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Provenance in the free-text description (TFDS has no other free-form metadata slot); plain
 * simulator runs add nothing, so their files stay byte-identical. Extra features
 * (`DatasetMeta.extraFeatures`) are not written in RLDS yet: they are left out rather than
 * half-declared in features.json.
 */
function provenance(meta: DatasetMeta): string {
  const src = meta.source;
  if (!src || src.kind === 'simulator') return '';
  const id = [src.modelId, src.model].filter(Boolean).join(', ');
  if (src.kind === 'teleop') return ' Driven by a person in trajforge play; each episode re-simulated from its seed and actions.';
  if (src.kind === 'labelled') return ` Frames from video; actions inferred by a world model's inverse dynamics${id ? ` (${id})` : ''}, not recorded.`;
  return ` Dreamed by a world model${id ? ` (${id})` : ''}, not simulated.`;
}

type Feature = { bytes: Uint8Array[] } | { floats: ArrayLike<number> } | { ints: ArrayLike<number> };

/** Flattened RLDS keys of one episode (T + 1 steps stacked). */
export function episodeFeatures(ep: EpisodeData, meta: DatasetMeta): Record<string, Feature> {
  const T = ep.length;
  const L = T + 1;
  const f: Record<string, Feature> = {};
  const state = new Float32Array(L * ep.obsDim);
  state.set(ep.obs);
  state.set(ep.finalObs, T * ep.obsDim);
  f['steps/observation/state'] = { floats: state };
  for (const fr of ep.frames) {
    const final = ep.finalFrames.find((x) => x.camera === fr.camera && x.channel === fr.channel)!;
    const per = final.data.length;
    const frame = (t: number) => (t < T ? fr.data.subarray(t * per, (t + 1) * per) : final.data);
    if (fr.channel === 'rgb') f[`steps/observation/image_${fr.camera}`] = { bytes: Array.from({ length: L }, (_, t) => encodePng(fr.width, fr.height, frame(t) as Uint8Array, 3)) };
    else if (fr.channel === 'segmentation') f[`steps/observation/segmentation_${fr.camera}`] = { bytes: Array.from({ length: L }, (_, t) => encodePng(fr.width, fr.height, frame(t) as Uint16Array, 1)) };
    else {
      const all = new Float32Array(L * per);
      for (let t = 0; t < L; t++) all.set(frame(t) as Float32Array, t * per);
      f[`steps/observation/${fr.channel}_${fr.camera}`] = { floats: all };
    }
  }
  const A = meta.discrete ? 1 : ep.actionDim;
  if (meta.discrete) f['steps/action'] = { ints: Array.from({ length: L }, (_, t) => (t < T ? Math.round(ep.actions[t]!) : 0)) };
  else {
    const a = new Float32Array(L * A);
    a.set(ep.actions);
    f['steps/action'] = { floats: a };
  }
  const reward = new Float32Array(L);
  reward.set(ep.rewards);
  f['steps/reward'] = { floats: reward };
  f['steps/discount'] = { floats: Float32Array.from({ length: L }, (_, t) => (t === T && ep.terminated[T - 1] ? 0 : 1)) };
  f['steps/is_first'] = { ints: Array.from({ length: L }, (_, t) => (t === 0 ? 1 : 0)) };
  f['steps/is_last'] = { ints: Array.from({ length: L }, (_, t) => (t === T ? 1 : 0)) };
  f['steps/is_terminal'] = { ints: Array.from({ length: L }, (_, t) => (t === T && ep.terminated[T - 1] ? 1 : 0)) };
  f['steps/language_instruction'] = { bytes: Array.from({ length: L }, () => new TextEncoder().encode(meta.instruction)) };
  f['episode_metadata/episode_id'] = { ints: [ep.episode] };
  f['episode_metadata/seed'] = { ints: [ep.seed] };
  f['episode_metadata/success'] = { ints: [ep.success[T - 1]!] };
  return f;
}

function featuresJson(meta: DatasetMeta) {
  const P = 'tensorflow_datasets.core.features.';
  const tensor = (shape: number[], dtype: string) => ({ pythonClassName: `${P}tensor_feature.Tensor`, tensor: { shape: { dimensions: shape.map(String) }, dtype, encoding: 'none' } });
  const scalar = (dtype: string) => ({ pythonClassName: `${P}scalar.Scalar`, tensor: { shape: {}, dtype, encoding: 'none' } });
  const image = (h: number, w: number, c: number, dtype: string) => ({ pythonClassName: `${P}image_feature.Image`, image: { shape: { dimensions: [String(h), String(w), String(c)] }, dtype, encodingFormat: 'png' } });
  const dict = (features: Record<string, unknown>) => ({ pythonClassName: `${P}features_dict.FeaturesDict`, featuresDict: { features } });
  const obs: Record<string, unknown> = { state: tensor([meta.observationNames.length], 'float32') };
  for (const c of meta.cameras) {
    for (const ch of c.channels) {
      if (ch === 'rgb') obs[`image_${c.name}`] = image(c.height, c.width, 3, 'uint8');
      else if (ch === 'segmentation') obs[`segmentation_${c.name}`] = image(c.height, c.width, 1, 'uint16');
      else obs[`${ch}_${c.name}`] = tensor(ch === 'depth' ? [c.height, c.width] : [c.height, c.width, ch === 'flow' ? 2 : 3], 'float32');
    }
  }
  const steps = dict({
    observation: dict(obs),
    action: meta.discrete ? scalar('int64') : tensor([meta.actionNames.length], 'float32'),
    reward: scalar('float32'),
    discount: scalar('float32'),
    is_first: scalar('bool'),
    is_last: scalar('bool'),
    is_terminal: scalar('bool'),
    language_instruction: { pythonClassName: `${P}text_feature.Text`, text: {} },
  });
  return dict({
    steps: { pythonClassName: `${P}dataset_feature.Dataset`, sequence: { feature: steps, length: '-1' } },
    episode_metadata: dict({ episode_id: scalar('int64'), seed: scalar('int64'), success: scalar('bool') }),
  });
}

// ---- protobuf (tf.train.Example) and TFRecord framing ------------------------------------

function featureBytes(f: Feature): Uint8Array {
  if ('bytes' in f) {
    const list = new Proto();
    for (const b of f.bytes) list.bytes(1, b);
    return new Proto().bytes(1, list.done()).done();
  }
  if ('floats' in f) {
    const packed = new Uint8Array(f.floats.length * 4);
    const dv = new DataView(packed.buffer);
    for (let i = 0; i < f.floats.length; i++) dv.setFloat32(i * 4, f.floats[i]!, true);
    return new Proto().bytes(2, new Proto().bytes(1, packed).done()).done();
  }
  const ints = new Proto();
  for (let i = 0; i < f.ints.length; i++) ints.varint(f.ints[i]!);
  return new Proto().bytes(3, new Proto().bytes(1, ints.done()).done()).done();
}

/** tf.train.Example{features: Features{feature: map<string, Feature>}}, keys sorted for stable bytes. */
export function exampleBytes(features: Record<string, Feature>): Uint8Array {
  const map = new Proto();
  for (const key of Object.keys(features).sort()) {
    const entry = new Proto().bytes(1, new TextEncoder().encode(key)).bytes(2, featureBytes(features[key]!)).done();
    map.bytes(1, entry);
  }
  return new Proto().bytes(1, map.done()).done();
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, modulo 2^32. */
export function maskedCrc(data: Uint8Array): number {
  const c = crc32c(data);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

function tfrecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc(data), true);
  return out;
}
