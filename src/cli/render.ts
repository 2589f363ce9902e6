import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { renderPreview } from '../episode/preview.js';
import { writeFileAtomic } from '../output/atomic.js';
import { checkFileOutput } from '../output/folder.js';
import { POLICY_KINDS, type PolicyKind } from '../policy/index.js';
import { CHANNELS, type Channel } from '../render/renderer.js';
import { encodePng } from '../render/png.js';
import { intOption, parse, SET_OPTION, SET_USAGE, overridesOf } from './args.js';
import type { Command } from './io.js';

export const renderCommand: Command = {
  name: 'render',
  summary: 'render one frame of an environment: rgb plus false-colour depth / segmentation / flow / normals',
  usage: 'trajforge render <env id or file> [--seed 0] [--step 0] [--camera NAME] [--channels rgb,depth,...] [--size WxH] [--supersample 1] [--policy expert|random|noise] --out frame.png [--overwrite] ' + SET_USAGE,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        seed: { type: 'string' },
        step: { type: 'string' },
        camera: { type: 'string' },
        channels: { type: 'string' },
        size: { type: 'string' },
        supersample: { type: 'string' },
        policy: { type: 'string' },
        out: { type: 'string' },
        overwrite: { type: 'boolean' },
        ...SET_OPTION,
      },
      this.usage,
    );
    const ref = positionals[0];
    if (!ref || !values.out) throw new TrajforgeError('E_USAGE', `missing ${ref ? '--out' : 'environment'}\nusage: ${this.usage}`);
    const file = checkFileOutput(values.out, { overwrite: (values.overwrite as unknown) === true, cwd: io.cwd });
    const channels = values.channels?.split(',').map((c) => c.trim()) as Channel[] | undefined;
    for (const c of channels ?? []) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${c}' (known: ${CHANNELS.join(', ')})`);
    const policy = values.policy as PolicyKind | undefined;
    if (policy !== undefined && (!POLICY_KINDS.includes(policy) || policy === 'replay')) throw new TrajforgeError('E_USAGE', `--policy must be expert, random or noise`);
    const resolved = loadEnv(ref, { baseDir: io.cwd, overrides: overridesOf(values) });
    if (values.size) {
      const m = /^(\d+)x(\d+)$/.exec(values.size);
      if (!m) throw new TrajforgeError('E_USAGE', `--size must look like 128x128, got '${values.size}'`);
      for (const c of resolved.config.cameras) c.resolution = [Number(m[1]), Number(m[2])];
    }
    const preview = await renderPreview(resolved, {
      seed: intOption(values.seed, 'seed', 0),
      step: intOption(values.step, 'step', 0),
      camera: values.camera,
      channels,
      policy,
      supersample: intOption(values.supersample, 'supersample', 1, 1),
    });
    writeFileAtomic(file, encodePng(preview.strip.width, preview.strip.height, preview.strip.rgb));
    const tiles = ['rgb', 'depth', 'segmentation', 'flow', 'normals'].filter((c) => preview.frames[c as Channel] !== undefined);
    io.out(`${values.out}: ${resolved.config.id} camera ${preview.camera}, ${preview.frames.width}x${preview.frames.height}, tiles: ${tiles.join(' | ')}\n`);
    return 0;
  },
};
