/**
 * trajforge info DIR: what a dataset folder holds, in any format trajforge writes (LeRobot v3,
 * Minari, DreamerV3 replay, RLDS/TFDS, per-frame folders) and LeRobot v3 from other tools, read
 * from each format's own metadata (nothing decoded), like `minari show` or a dataset card. A
 * folder that holds several formats (generate --format a,b) lists each.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { readJson } from '../dataset/json.js';
import { dirBytes } from '../dataset/sink.js';
import { readEpisodesMeta, readInfo } from '../export/lerobot/reader.js';
import { resolveIn } from './progress.js';

export type DatasetFormat = 'lerobot' | 'minari' | 'dreamer' | 'rlds' | 'frames';
const FORMATS: readonly DatasetFormat[] = ['lerobot', 'minari', 'dreamer', 'rlds', 'frames'];

export interface FormatInfo {
  format: DatasetFormat;
  /** The folder the format's files are in. */
  dir: string;
  writtenBy: 'trajforge' | 'other';
  envId: string | null;
  configHash: string | null;
  episodes: number;
  /** Steps (transitions) over all episodes; null where the format's metadata does not say. */
  steps: number | null;
  /** Share of episodes that ended in success; null where not recorded. */
  successRate: number | null;
  fps: number | null;
  observation: string | null;
  action: string | null;
  cameras: string[];
  /** Where the episodes came from (simulator, world model, labelled video), when recorded. */
  source: string | null;
  bytes: number;
}

export interface InfoSummary {
  dir: string;
  formats: FormatInfo[];
}

export async function datasetInfo(opts: { dir: string; cwd?: string }): Promise<InfoSummary> {
  const dir = resolveIn(opts.cwd, opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TrajforgeError('E_USAGE', `${opts.dir}: no such folder`);
  const formats: FormatInfo[] = [];
  // A folder of several formats (generate --format a,b) has one subfolder per format's name.
  const multi = FORMATS.filter((f) => existsSync(join(dir, f)) && statSync(join(dir, f)).isDirectory());
  if (multi.length > 0 && !existsSync(join(dir, 'meta', 'info.json'))) {
    for (const name of multi) {
      const found = await detect(join(dir, name));
      if (found) formats.push(found);
    }
  } else {
    const own = await detect(dir);
    if (own) formats.push(own);
  }
  if (formats.length === 0) {
    throw new TrajforgeError('E_DATASET_INVALID', `${opts.dir}: not a dataset trajforge reads (no LeRobot meta/info.json, Minari data/metadata.json, DreamerV3 dreamer.json, RLDS dataset_info.json or episode_* frame folders)`, { file: dir });
  }
  return { dir, formats };
}

async function detect(dir: string): Promise<FormatInfo | null> {
  if (existsSync(join(dir, 'meta', 'info.json'))) return lerobot(dir);
  if (existsSync(join(dir, 'dreamer.json'))) return dreamer(dir);
  const minariMeta = findFile(dir, (rel) => /(^|\/)data\/metadata\.json$/.test(rel), 4);
  if (minariMeta) return minari(minariMeta);
  const rldsInfo = findFile(dir, (rel) => /(^|\/)dataset_info\.json$/.test(rel), 3);
  if (rldsInfo) return rlds(rldsInfo);
  if (readdirSync(dir).some((n) => /^episode_\d+$/.test(n) && existsSync(join(dir, n, 'metadata.json')))) return frames(dir);
  return null;
}

/** The first file under dir (breadth-first, at most `depth` levels) whose path relative to dir matches. */
function findFile(dir: string, match: (rel: string) => boolean, depth: number): string | null {
  let level = [dir];
  for (let d = 0; d <= depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const folder of level) {
      for (const e of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(folder, e.name);
        if (e.isFile() && match(relative(dir, path).split('\\').join('/'))) return path;
        if (e.isDirectory() && !e.name.startsWith('.')) next.push(path);
      }
    }
    level = next;
  }
  return null;
}

interface Sidecar {
  env_id?: string;
  config_hash?: string;
  fps?: number;
  observation_names?: string[];
  action_names?: string[];
  discrete?: boolean;
  cameras?: { name: string; width: number; height: number; channels: string[] }[];
  source?: { kind?: string; model_id?: string };
  /** The environment's config as run: a discrete space's choices are named there. */
  config?: { actions?: { discrete?: { name?: unknown }[] } };
}

const box = (names: readonly string[] | undefined) => (names && names.length > 0 ? `Box(${names.length}): ${names.join(', ')}` : null);
/** A discrete action space as the other formats' readers print it (Discrete(n), as gymnasium does), with its choices' names from the recorded config. */
const discrete = (s: Sidecar) => {
  const choices = Array.isArray(s.config?.actions?.discrete) ? s.config.actions.discrete.map((c) => String(c?.name)) : [];
  return choices.length > 0 ? `Discrete(${choices.length}): ${choices.join(', ')}` : 'Discrete';
};
const cams = (s: Sidecar) => (s.cameras ?? []).map((c) => `${c.name} ${c.width}x${c.height} ${c.channels.join('+')}`);
const sourceOf = (s: Sidecar) => (s.source?.kind ? `${s.source.kind}${s.source.model_id ? ` (model ${s.source.model_id})` : ''}` : 'simulator');

async function lerobot(dir: string): Promise<FormatInfo> {
  const info = readInfo(dir);
  const sideFile = join(dir, 'meta', 'trajforge.json');
  const side: Sidecar | null = existsSync(sideFile) ? readJson<Sidecar>(sideFile) : null;
  const episodes = await readEpisodesMeta(dir);
  const successes = episodes.filter((e) => e.success === true).length;
  const feature = (k: string) => info.features[k] as { shape?: number[]; names?: unknown } | undefined;
  const width = (k: string) => Number(feature(k)?.shape?.[0] ?? 0);
  // Frames of other tools' datasets: video features, and image features (a PNG per row).
  const frameKeys = Object.entries(info.features).filter(([, f]) => ['video', 'image'].includes((f as { dtype?: string }).dtype ?? ''));
  return {
    format: 'lerobot',
    dir,
    writtenBy: side ? 'trajforge' : 'other',
    envId: side?.env_id ?? null,
    configHash: side?.config_hash ?? null,
    episodes: info.total_episodes,
    steps: info.total_frames,
    successRate: episodes.length > 0 && 'success' in episodes[0]! ? successes / episodes.length : null,
    fps: info.fps,
    observation: side ? box(side.observation_names) : feature('observation.state') ? `Box(${width('observation.state')})` : null,
    action: side ? (side.discrete ? discrete(side) : box(side.action_names)) : feature('action') ? `Box(${width('action')})` : null,
    cameras: side ? cams(side) : frameKeys.map(([k, f]) => `${k} ${(f as { shape?: number[] }).shape?.join('x') ?? ''}${(f as { dtype?: string }).dtype === 'image' ? ' (images)' : ''}`.trim()),
    source: side ? sourceOf(side) : null,
    bytes: dirBytes(dir),
  };
}

function dreamer(dir: string): FormatInfo {
  const d = readJson<Sidecar & { episodes?: { length: number; success: boolean }[] }>(join(dir, 'dreamer.json'));
  const eps = d.episodes ?? [];
  return {
    format: 'dreamer',
    dir,
    writtenBy: 'trajforge',
    envId: d.env_id ?? null,
    configHash: d.config_hash ?? null,
    episodes: eps.length,
    steps: eps.reduce((s, e) => s + e.length, 0),
    successRate: eps.length > 0 ? eps.filter((e) => e.success).length / eps.length : null,
    fps: d.fps ?? null,
    observation: box(d.observation_names),
    action: d.discrete ? discrete(d) : box(d.action_names),
    cameras: cams(d),
    source: sourceOf(d),
    bytes: dirBytes(dir),
  };
}

function minari(metaFile: string): FormatInfo {
  const m = readJson<{ dataset_id?: string; total_episodes?: number; total_steps?: number; action_space?: string; observation_space?: string; trajforge?: { env_id?: string; config_hash?: string }; algorithm_name?: string }>(metaFile);
  const dir = resolve(metaFile, '..', '..');
  const env = m.trajforge?.env_id ?? null;
  const hash = m.trajforge?.config_hash ?? null;
  const space = (text: string | undefined) => {
    try {
      const s = JSON.parse((text ?? '').replace(/(-?)Infinity/g, '"$1Infinity"')) as { type?: string; shape?: number[]; n?: number; subspaces?: Record<string, { shape?: number[] }> };
      if (s.type === 'Dict') return `Dict(${Object.entries(s.subspaces ?? {}).map(([k, v]) => `${k}: ${v.shape?.join('x') ?? '?'}`).join(', ')})`;
      return s.type === 'Discrete' ? `Discrete(${s.n})` : `${s.type}(${s.shape?.join('x') ?? ''})`;
    } catch {
      return null;
    }
  };
  return {
    format: 'minari',
    dir,
    writtenBy: m.trajforge ? 'trajforge' : 'other',
    envId: env ?? m.dataset_id ?? null,
    configHash: hash,
    episodes: m.total_episodes ?? 0,
    steps: m.total_steps ?? null,
    successRate: null,
    fps: null,
    observation: space(m.observation_space),
    action: space(m.action_space),
    cameras: [],
    source: m.algorithm_name ?? null,
    bytes: dirBytes(dir),
  };
}

function rlds(infoFile: string): FormatInfo {
  const d = readJson<{ name?: string; version?: string; description?: string; splits?: { name: string; shardLengths?: string[] }[] }>(infoFile);
  const dir = resolve(infoFile, '..');
  const episodes = (d.splits ?? []).reduce((s, sp) => s + (sp.shardLengths ?? []).reduce((a, b) => a + Number(b), 0), 0);
  return {
    format: 'rlds',
    dir,
    writtenBy: /trajforge/i.test(d.description ?? '') ? 'trajforge' : 'other',
    envId: /\b([A-Z][A-Za-z0-9]*-v\d+)\b/.exec(d.description ?? '')?.[1] ?? d.name ?? null,
    configHash: /config ([0-9a-f]{16,})/.exec(d.description ?? '')?.[1] ?? null,
    episodes,
    steps: null,
    successRate: null,
    fps: null,
    observation: null,
    action: null,
    cameras: [],
    source: d.description ?? null,
    bytes: dirBytes(dir),
  };
}

function frames(dir: string): FormatInfo {
  const episodes = readdirSync(dir).filter((n) => /^episode_\d+$/.test(n)).sort();
  let steps = 0;
  let successes = 0;
  let fps: number | null = null;
  let size: string | null = null;
  for (const e of episodes) {
    // Kubric's metadata.json: num_frames counts the T + 1 observations of a T-step episode.
    const m = readJson<{ metadata?: { num_frames?: number; frame_rate?: number; success?: boolean; resolution?: number[] } }>(join(dir, e, 'metadata.json')).metadata ?? {};
    steps += Math.max(0, Number(m.num_frames ?? 1) - 1);
    if (m.success) successes++;
    fps ??= m.frame_rate ?? null;
    size ??= m.resolution ? m.resolution.join('x') : null;
  }
  return {
    format: 'frames',
    dir,
    writtenBy: 'trajforge',
    envId: null,
    configHash: null,
    episodes: episodes.length,
    steps,
    successRate: episodes.length > 0 ? successes / episodes.length : null,
    fps,
    observation: null,
    action: null,
    cameras: size ? [`${size} per-frame images`, ...furtherCameras(dir, episodes[0]!)] : [],
    source: null,
    bytes: dirBytes(dir),
  };
}

/** A frames episode's further cameras: each a folder named after it, with its own metadata.json (resolution). */
function furtherCameras(dir: string, episode: string): string[] {
  const folder = join(dir, episode);
  return readdirSync(folder, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(folder, d.name, 'metadata.json')))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const m = readJson<{ metadata?: { resolution?: number[] } }>(join(folder, name, 'metadata.json')).metadata ?? {};
      return `${name}: ${Array.isArray(m.resolution) ? m.resolution.join('x') : 'unknown size'} per-frame images`;
    });
}
