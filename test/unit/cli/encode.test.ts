import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, readLeRobotCameraFrames, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { addFeatureToLeRobot } from '../../../src/export/lerobot/extend.js';
import { readEpisodesMeta, validateLeRobot } from '../../../src/export/lerobot/reader.js';
import type { ModelCard } from '../../../src/model/card.js';
import { WorldModelSession } from '../../../src/model/session.js';
import { readModelCard, readModelParts } from '../../../src/model/store.js';
import { runCommand } from '../../helpers/cli-io.js';
import { query, tmpDir } from '../../helpers/dataset.js';

const run = runCommand;

/** Every file under dir (relative path -> sha256), to prove the input dataset is untouched. */
function hashTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = join(prefix, name);
    if (statSync(join(dir, rel)).isDirectory()) Object.assign(out, hashTree(dir, rel));
    else out[rel] = createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex');
  }
  return out;
}

/** The expected latents, computed independently of the command: source frames / 255 -> ONNX encoder, one episode at a time. */
async function expectedLatents(src: string, modelDir: string, card: ModelCard): Promise<{ steps: Float32Array; final: Float32Array; length: number }[]> {
  const session = await WorldModelSession.load(card, readModelParts(modelDir, card));
  const L = card.latent;
  const out: { steps: Float32Array; final: Float32Array; length: number }[] = [];
  try {
    for await (const ep of readLeRobotEpisodes(src)) {
      const rgb = ep.frames.find((c) => c.camera === card.camera && c.channel === 'rgb')!;
      const last = ep.finalFrames.find((c) => c.camera === card.camera && c.channel === 'rgb')!;
      const x = Float32Array.from([...rgb.data, ...last.data], (v) => v / 255);
      const z = await session.encode(x, ep.length + 1);
      out.push({ steps: z.slice(0, ep.length * L), final: z.slice(ep.length * L), length: ep.length });
    }
  } finally {
    await session.release();
  }
  return out;
}

const KEY = 'observation.latent';

describe('trajforge encode', () => {
  let root: string;
  let card: ModelCard;
  let before: Record<string, string>;
  let stdout: string;
  let expected: Awaited<ReturnType<typeof expectedLatents>>;

  beforeAll(async () => {
    root = tmpDir('tf-encode-');
    expect((await run('generate', ['PushCube-v1', '--episodes', '6', '--out', 'data'], root)).code).toBe(0);
    expect((await run('train', ['data', '--out', 'model', '--arch', 'keypoints', '--epochs', '1', '--hidden', '16', '--latent', '26', '--keypoints', '2', '--rollout', '2'], root)).code).toBe(0);
    card = readModelCard(join(root, 'model'));
    before = hashTree(join(root, 'data'));
    // --batch 50: several encoder calls, episodes grouped across call boundaries.
    const r = await run('encode', ['data', '--model', 'model', '--out', 'enc', '--batch', '50'], root);
    expect(r.code).toBe(0);
    stdout = r.stdout;
    expected = await expectedLatents(join(root, 'data'), join(root, 'model'), card);
  }, 120_000);

  it('reports episodes, frames, latent size, seconds and encoder throughput', () => {
    const frames = expected.reduce((n, e) => n + e.length, 0);
    expect(stdout).toMatch(new RegExp(`encoded 6 episodes, ${frames} frames .* observation\\.latent \\[${card.latent}\\], [\\d.]+ s, encoder \\d+ frames/s`));
    expect(stdout).not.toMatch(/note: model trained on/);
  });

  it('leaves the source dataset byte-for-byte unchanged', () => {
    expect(hashTree(join(root, 'data'))).toEqual(before);
  });

  it('keeps the videos bit-identical: the same mp4 files (sha256), never re-encoded', () => {
    const videos = (d: string) => hashTree(join(root, d, 'videos'));
    expect(Object.keys(videos('data')).filter((f) => f.endsWith('.mp4')).length).toBeGreaterThan(0);
    expect(videos('enc')).toEqual(videos('data'));
    // Sidecar lines and tasks carry over unchanged too.
    for (const f of ['meta/trajforge_episodes.jsonl', 'meta/tasks.parquet']) expect(readFileSync(join(root, 'enc', f)).equals(readFileSync(join(root, 'data', f))), f).toBe(true);
  });

  it('readLeRobotCameraFrames (one streaming decoder per file) gives the frames readLeRobotEpisodes gives', async () => {
    const cam = card.camera;
    const a: Uint8Array[] = [];
    for await (const ep of readLeRobotEpisodes(join(root, 'data'))) {
      a.push(ep.frames.find((c) => c.camera === cam && c.channel === 'rgb')!.data as Uint8Array);
      a.push(ep.finalFrames.find((c) => c.camera === cam && c.channel === 'rgb')!.data as Uint8Array);
    }
    const b: Uint8Array[] = [];
    let e = 0;
    for await (const ep of readLeRobotCameraFrames(join(root, 'data'), cam)) {
      expect(ep.episode).toBe(e++);
      b.push(ep.frames, ep.final);
    }
    expect(b.length).toBe(a.length);
    b.forEach((x, i) => expect(Buffer.from(x).equals(Buffer.from(a[i]!)), `array ${i}`).toBe(true));
  });

  it('writes a valid LeRobot dataset declaring the latent in info.json', async () => {
    const dir = join(root, 'enc');
    expect(await validateLeRobot(dir, { deep: true })).toEqual([]);
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    expect(info.features[KEY]).toMatchObject({ dtype: 'float32', shape: [card.latent] });
    const src = JSON.parse(readFileSync(join(root, 'data/meta/info.json'), 'utf8'));
    expect(info.total_frames).toBe(src.total_frames);
    expect(info.total_episodes).toBe(src.total_episodes);
    expect(datasetMeta(dir).extraFeatures).toEqual([{ key: KEY, dim: card.latent, names: Array.from({ length: card.latent }, (_, i) => `z${i}`), modelId: card.id }]);
    expect(datasetMeta(dir).source).toEqual(datasetMeta(join(root, 'data')).source);
  });

  it('data parquet (DuckDB): a FLOAT[] latent column equal to the ONNX encoder on the source frames; other columns unchanged', async () => {
    const glob = (d: string) => join(root, d, 'data/*/*.parquet');
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM '${glob('enc')}'`)).map((r) => [r.column_name, r.column_type]));
    expect(types[KEY]).toBe('FLOAT[]');
    const rows = await query(`SELECT episode_index AS e, frame_index AS t, "${KEY}" AS z FROM '${glob('enc')}' ORDER BY index`);
    expect(rows.length).toBe(expected.reduce((n, e) => n + e.length, 0));
    let worst = 0;
    for (const r of rows) {
      const z = r.z as number[];
      expect(z).toHaveLength(card.latent);
      const want = expected[Number(r.e)]!.steps.subarray(Number(r.t) * card.latent, (Number(r.t) + 1) * card.latent);
      z.forEach((v, d) => (worst = Math.max(worst, Math.abs(v - want[d]!))));
    }
    expect(worst).toBeLessThan(1e-5);
    // Everything else is carried over: same rows, same values.
    const diff = await query(
      `SELECT count(*) AS n FROM '${glob('data')}' a JOIN '${glob('enc')}' b USING (index)
       WHERE a."observation.state" IS DISTINCT FROM b."observation.state" OR a.action IS DISTINCT FROM b.action
          OR a."next.reward" IS DISTINCT FROM b."next.reward" OR a.episode_index IS DISTINCT FROM b.episode_index OR a.timestamp IS DISTINCT FROM b.timestamp`,
    );
    expect(Number(diff[0]!.n)).toBe(0);
  });

  it('stores the final frame latent and reads back through readLeRobotEpisodes', async () => {
    let e = 0;
    for await (const ep of readLeRobotEpisodes(join(root, 'enc'))) {
      const x = ep.extras!.find((v) => v.key === KEY)!;
      const want = expected[e]!;
      expect(x.dim).toBe(card.latent);
      expect(Math.max(...Array.from(x.final!, (v, d) => Math.abs(v - want.final[d]!)))).toBeLessThan(1e-5);
      e++;
    }
    expect(e).toBe(expected.length);
  });

  it('stats.json: per-dimension stats of the latent with min <= mean <= max', () => {
    const stats = JSON.parse(readFileSync(join(root, 'enc/meta/stats.json'), 'utf8'));
    const s = stats[KEY];
    expect(s.count).toEqual([expected.reduce((n, e) => n + e.length, 0)]);
    for (const k of ['min', 'max', 'mean', 'std']) expect(s[k]).toHaveLength(card.latent);
    for (let d = 0; d < card.latent; d++) {
      expect(s.min[d]).toBeLessThanOrEqual(s.mean[d]);
      expect(s.mean[d]).toBeLessThanOrEqual(s.max[d]);
      const col = expected.flatMap((ep) => Array.from({ length: ep.length }, (_, t) => ep.steps[t * card.latent + d]!));
      expect(s.min[d]).toBeCloseTo(Math.min(...col), 5);
      expect(s.max[d]).toBeCloseTo(Math.max(...col), 5);
    }
  });

  it('stats.json keeps every other feature\'s stats; meta/episodes gains the latent\'s per-episode stats, the rest as they were', async () => {
    const a = JSON.parse(readFileSync(join(root, 'data/meta/stats.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(root, 'enc/meta/stats.json'), 'utf8'));
    expect(Object.keys(b).sort()).toEqual([...Object.keys(a), KEY].sort());
    for (const k of Object.keys(a)) expect(b[k], k).toEqual(a[k]);
    const src = await readEpisodesMeta(join(root, 'data'));
    const enc = await readEpisodesMeta(join(root, 'enc'));
    expect(enc.length).toBe(src.length);
    const plain = (v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v);
    enc.forEach((row, e) => {
      for (const [c, v] of Object.entries(src[e]!)) expect(plain(row[c]), `episode ${e} ${c}`).toEqual(plain(v));
      const want = expected[e]!;
      for (let d = 0; d < card.latent; d++) {
        const col = Array.from({ length: want.length }, (_, t) => want.steps[t * card.latent + d]!);
        expect((plain(row[`stats/${KEY}/min`]) as number[])[d]).toBeCloseTo(Math.min(...col), 5);
        expect((plain(row[`stats/${KEY}/max`]) as number[])[d]).toBeCloseTo(Math.max(...col), 5);
      }
      expect(plain(row[`stats/${KEY}/count`])).toEqual([want.length]);
    });
  });

  it('a failure while writing leaves nothing at the output (an existing empty directory stays empty) and no temp directory', async () => {
    const fail = (e: number) => {
      if (e === 3) throw new Error('boom');
      return { data: new Float32Array(expected[e]!.length * 2) };
    };
    const feature = { key: 'x.y', dim: 2 };
    await expect(addFeatureToLeRobot(join(root, 'data'), join(root, 'fail1'), feature, fail)).rejects.toThrow('boom');
    expect(existsSync(join(root, 'fail1'))).toBe(false);
    mkdirSync(join(root, 'fail2'));
    await expect(addFeatureToLeRobot(join(root, 'data'), join(root, 'fail2'), feature, fail)).rejects.toThrow('boom');
    expect(readdirSync(join(root, 'fail2'))).toEqual([]);
    // Wrong sizes are the caller's bug, caught before anything of the episode is written.
    await expect(addFeatureToLeRobot(join(root, 'data'), join(root, 'fail3'), feature, () => ({ data: new Float32Array(1) }))).rejects.toMatchObject({ code: 'E_INTERNAL' });
    expect(existsSync(join(root, 'fail3'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('.tmp'))).toEqual([]);
    // Into an existing empty directory it succeeds, without a final value (dim 1: a scalar column).
    mkdirSync(join(root, 'ok'));
    await addFeatureToLeRobot(join(root, 'data'), join(root, 'ok'), { key: 'x.y', dim: 1 }, (e) => ({ data: new Float32Array(expected[e]!.length).fill(e) }));
    expect(await validateLeRobot(join(root, 'ok'))).toEqual([]);
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM '${join(root, 'ok/data/*/*.parquet')}'`)).map((r) => [r.column_name, r.column_type]));
    expect(types['x.y']).toBe('FLOAT');
    for await (const ep of readLeRobotEpisodes(join(root, 'ok'))) expect(ep.extras![0]!.final).toBeUndefined();
  });

  it('refuses a non-empty output directory with E_DATASET_EXISTS', async () => {
    await expect(run('encode', ['data', '--model', 'model', '--out', 'enc'], root)).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
  });

  it('an existing feature of the same key needs --replace; --replace swaps it in place', async () => {
    await expect(run('encode', ['enc', '--model', 'model', '--out', 'enc2'], root)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(join(root, 'enc2'))).toBe(false);
    expect((await run('encode', ['enc', '--model', 'model', '--out', 'enc3', '--key', 'wm.z'], root)).code).toBe(0);
    expect(datasetMeta(join(root, 'enc3')).extraFeatures!.map((x) => x.key)).toEqual([KEY, 'wm.z']);
    expect((await run('encode', ['enc3', '--model', 'model', '--out', 'enc4', '--replace', '--batch', '1'], root)).code).toBe(0);
    expect(datasetMeta(join(root, 'enc4')).extraFeatures!.map((x) => x.key)).toEqual([KEY, 'wm.z']);
    // enc3's videos are data's, bit for bit, so the replaced latent is the encoder on data's frames again.
    expect(hashTree(join(root, 'enc4', 'videos'))).toEqual(hashTree(join(root, 'data', 'videos')));
    const want = expected;
    const a = await query(`SELECT episode_index AS e, frame_index AS t, "${KEY}" AS z, "wm.z" AS w FROM '${join(root, 'enc4/data/*/*.parquet')}' ORDER BY index`);
    const b = await query(`SELECT "wm.z" AS w FROM '${join(root, 'enc3/data/*/*.parquet')}' ORDER BY index`);
    expect(a.length).toBe(b.length);
    let worst = 0;
    a.forEach((r, i) => {
      expect(r.w).toEqual(b[i]!.w); // the other extra is kept as it was
      const z = want[Number(r.e)]!.steps.subarray(Number(r.t) * card.latent, (Number(r.t) + 1) * card.latent);
      (r.z as number[]).forEach((v, d) => (worst = Math.max(worst, Math.abs(v - z[d]!))));
    });
    expect(worst).toBeLessThan(1e-5);
    expect(await validateLeRobot(join(root, 'enc4'), { deep: true })).toEqual([]);
  });

  it('rejects a model whose camera or resolution does not fit the dataset with E_MODEL_SHAPE, writing nothing', async () => {
    const variant = (name: string, edit: (c: ModelCard) => void) => {
      const dir = join(root, name);
      cpSync(join(root, 'model'), dir, { recursive: true });
      const c = structuredClone(card);
      edit(c);
      writeFileSync(join(dir, 'model.json'), JSON.stringify(c));
      return name;
    };
    const cases = [
      variant('m-camera', (c) => (c.camera = 'nope')),
      variant('m-width', (c) => (c.input.width += 1)),
    ];
    for (const m of cases) {
      await expect(run('encode', ['data', '--model', m, '--out', `out-${m}`], root), m).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
      expect(existsSync(join(root, `out-${m}`))).toBe(false);
    }
  });

  it('rejects a key that clashes with a built-in feature, leaving no output behind', async () => {
    await expect(run('encode', ['data', '--model', 'model', '--out', 'clash', '--key', 'action'], root)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(join(root, 'clash'))).toBe(false);
  });
});
