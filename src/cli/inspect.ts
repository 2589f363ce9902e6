import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { isPlainObject } from '../core/json.js';
import { datasetMeta } from '../export/lerobot/episodes.js';
import { readEpisodesMeta, readInfo, readJson } from '../export/lerobot/reader.js';
import { parse } from './args.js';
import type { Command } from './io.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'summarise a dataset: episodes, frames, features, success rate, stats, file sizes',
  usage: 'trajforge inspect DIR',
  async run(args, io) {
    const { positionals } = parse(args, {}, this.usage);
    if (!positionals[0]) throw new TrajforgeError('E_USAGE', `missing DIR\nusage: ${this.usage}`);
    const dir = resolve(io.cwd, positionals[0]);
    const info = readInfo(dir);
    const episodes = await readEpisodesMeta(dir);
    const successes = episodes.filter((e) => e.success === true).length;
    const lengths = episodes.map((e) => Number(e.length));
    io.out(`${positionals[0]}: LeRobot ${info.codebase_version}, ${info.fps} fps\n`);
    io.out(`  episodes   ${info.total_episodes} (length min ${Math.min(...lengths)}, mean ${(lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length)).toFixed(1)}, max ${Math.max(...lengths)})\n`);
    io.out(`  frames     ${info.total_frames}\n`);
    // An environment without a success criterion records success false throughout: no rate to show.
    const criterion = hasSuccessCriterion(dir);
    if (criterion && episodes.length > 0 && 'success' in episodes[0]!) io.out(`  success    ${((100 * successes) / episodes.length).toFixed(1)}% (${successes}/${episodes.length})\n`);
    const statsFile = join(dir, 'meta', 'stats.json');
    const read = existsSync(statsFile) ? readJson<unknown>(statsFile) : {};
    // A damaged stats file shows as no stats here; validate names what is wrong with it.
    const stats = isPlainObject(read) ? read : {};
    io.out('  features\n');
    const width = Math.max(...Object.keys(info.features).map((k) => k.length));
    for (const [k, f] of Object.entries(info.features)) {
      const s = stats[k];
      const summary = isPlainObject(s) ? `mean ${fmt(s.mean)}  std ${fmt(s.std)}  [${fmt(s.min)} .. ${fmt(s.max)}]` : '';
      io.out(`    ${k.padEnd(width)}  ${f.dtype.padEnd(7)} ${JSON.stringify(f.shape).padEnd(12)} ${summary}\n`);
    }
    io.out('  files\n');
    for (const [label, sub] of [['data', 'data'], ['videos', 'videos'], ['meta', 'meta']] as const) {
      const files = walk(join(dir, sub));
      const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
      io.out(`    ${label.padEnd(7)} ${String(files.length).padStart(4)} file(s)  ${(bytes / 1e6).toFixed(2)} MB${files.length <= 4 ? `  (${files.map((f) => relative(dir, f)).join(', ')})` : ''}\n`);
    }
    return 0;
  },
};

function fmt(v: unknown): string {
  const flat = (Array.isArray(v) ? (v as unknown[]).flat(3) : [v]) as number[];
  const shown = flat.slice(0, 4).map((x) => (typeof x === 'number' ? (Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3)) : String(x)));
  return flat.length > 4 ? `[${shown.join(', ')}, ... ${flat.length}]` : flat.length > 1 ? `[${shown.join(', ')}]` : (shown[0] ?? '');
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Whether the dataset's environment defines success (true when its trajforge.json is absent or unreadable: inspect reads LeRobot's files). */
function hasSuccessCriterion(dir: string): boolean {
  try {
    return existsSync(join(dir, 'meta', 'trajforge.json')) ? (datasetMeta(dir).config?.task.success.length ?? 1) > 0 : true;
  } catch {
    return true;
  }
}
