/**
 * `npm run bench:models [-- ENV...] [--episodes 300] [--work DIR] [--arch conv]`: the world-model
 * table of the README, reproducible by anyone. For each environment: generate the issue's dataset
 * (noisy expert, lossless rgb), train with default options, evaluate on the held-out 20 %, and
 * print one markdown row per environment with the report's figures and the wall-clock times.
 * Default: every environment file in environments/. Datasets and models stay in the work folder
 * (default .bench-models/), so a rerun with --reuse skips what exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateDataset } from '../src/api/generate.js';
import { evaluateWorldModel, trainWorldModel } from '../src/pipeline/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    episodes: { type: 'string', default: '300' },
    work: { type: 'string', default: '.bench-models' },
    arch: { type: 'string', default: 'conv' },
    /** Model folder suffix, so a variant does not replace the defaults' model. */
    tag: { type: 'string', default: '' },
    reuse: { type: 'boolean', default: false },
    /** Extra trainWorldModel options as JSON, e.g. '{"keypointMaps":true}': how a variant is measured against the defaults. */
    'train-options': { type: 'string', default: '{}' },
  },
});
const root = resolve(import.meta.dirname, '..');
const work = resolve(values.work!);
const envIds =
  positionals.length > 0
    ? positionals
    : readdirSync(join(root, 'environments'))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => /^id:\s*(\S+)/m.exec(readFileSync(join(root, 'environments', f), 'utf8'))?.[1])
        .filter((id): id is string => id !== undefined)
        .sort();

const rows: string[] = [];
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)} %`);
const num = (v: number | undefined, d = 2, unit = '') => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(d)}${unit}`);
for (const env of envIds) {
  const data = join(work, 'data', env);
  const model = join(work, 'models', `${env}-${values.arch}${values.tag ? `-${values.tag}` : ''}`);
  const t0 = performance.now();
  if (!(values.reuse && existsSync(join(data, 'meta', 'info.json')))) {
    await generateDataset({ env, out: data, episodes: Number(values.episodes), policy: { noise: 0.3, epsilon: 0.1 }, codec: 'lossless', overwrite: true });
  }
  const t1 = performance.now();
  if (!(values.reuse && existsSync(join(model, 'model.json')))) {
    await trainWorldModel({ ...(JSON.parse(values['train-options']!) as object), dataset: data, out: model, overwrite: true, kind: values.arch as 'conv' });
  }
  const t2 = performance.now();
  const ev = await evaluateWorldModel({ model, dataset: data });
  const t3 = performance.now();
  const value = (prefix: string) => ev.targets.find((t) => t.name.startsWith(prefix))?.value;
  const row = `| ${env} | ${pct(value(`${ev.horizon}-step MSE below copy-last`))} | ${pct(value(`${ev.horizon}-step MSE below the PCA`))} | ${num(value('ΔPSNR'), 2, ' dB')} | ${num(value('inverse'))} | ${num(value('linear probe'))} | ${ev.targets.every((t) => t.pass) ? 'all met' : `missed: ${ev.targets.filter((t) => !t.pass).map((t) => t.name).join('; ')}`} | ${((t2 - t1) / 1000).toFixed(0)} s | ${((t3 - t2) / 1000).toFixed(0)} s |`;
  rows.push(row);
  console.error(`${env}: generate ${((t1 - t0) / 1000).toFixed(0)} s, train ${((t2 - t1) / 1000).toFixed(0)} s, eval ${((t3 - t2) / 1000).toFixed(0)} s`);
  console.error(row);
}
console.log(`| environment (${values.episodes} episodes, --arch ${values.arch}) | 10-step MSE below copy-last | below PCA | ΔPSNR | inverse R² | probe R² | targets | train | eval |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
