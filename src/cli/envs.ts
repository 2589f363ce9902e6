import { relative } from 'node:path';
import { loadEnv, scanEnvironments } from '../config/load.js';
import { observationNames } from '../config/names.js';
import type { ResolvedEnv } from '../config/parse.js';
import { isTrajforgeError } from '../core/errors.js';
import { parse } from './args.js';
import { helpLines, keyMapForConfig } from '../policy/teleop.js';
import type { Command } from './io.js';

export const envsCommand: Command = {
  name: 'envs',
  summary: 'list the available environments (--details: spaces, cameras, rates, expert)',
  usage:
    'trajforge envs [--details [ID ...]]   (lists every readable environment; files that cannot be read are named on stderr with the reason, and the exit code is then 1; ' +
    '--details describes each one, or the ids given)',
  async run(args, io) {
    const { values, positionals } = parse(args, { details: { type: 'boolean' } }, this.usage);
    const { entries, problems } = scanEnvironments();
    if (values.details) {
      // Named ids load through the usual path (unknown ones get did-you-mean); the rest are the listed files.
      // Every listed file: one that does not validate is named below like an unreadable one, and the rest are described.
      const listed = (positionals.length > 0 ? [] : entries).flatMap((e) => {
        try {
          return [loadEnv(e.file)];
        } catch (err) {
          if (!isTrajforgeError(err)) throw err;
          problems.push({ file: e.file, reason: err.message });
          return [];
        }
      });
      const chosen = positionals.length > 0 ? positionals.map((id) => loadEnv(id, { baseDir: io.cwd })) : listed;
      for (const env of chosen) io.out(describeEnv(env, relative(io.cwd, env.source) || env.source));
    } else {
      const width = Math.max(0, ...entries.map((e) => e.id.length));
      for (const e of entries) io.out(`${e.id.padEnd(width)}  ${e.description}  (${relative(io.cwd, e.file)}${e.shadows ? `; hides ${e.shadows.map((f) => relative(io.cwd, f)).join(', ')}` : ''})\n`);
    }
    // One broken file is reported, not fatal: the others stay usable, and scripts see exit 1.
    for (const p of problems) io.err(`warning: skipped ${relative(io.cwd, p.file) || p.file}: ${p.reason.split('\n').join('\n  ')}\n`);
    return problems.length > 0 ? 1 : 0;
  },
};

/** What a user needs to know before generating from an environment, as Minari's and Gymnasium's spec listings give it. */
function describeEnv(env: ResolvedEnv, file: string): string {
  const cfg = env.config;
  const fps = 1 / (cfg.world.timestep * cfg.world.substeps);
  const obs = observationNames(cfg);
  const acts = cfg.actions.actuators;
  const discrete = cfg.actions.discrete;
  const lines = [
    `${cfg.id}  (${file})`,
    `  ${cfg.description || cfg.task.instruction || ''}`.trimEnd(),
    `  task          ${cfg.task.instruction || '(no instruction)'}`,
    `  time limit    ${cfg.task.timeLimit} steps (${(cfg.task.timeLimit / fps).toFixed(1)} s)`,
    `  control       ${Number.isInteger(fps) ? fps : fps.toFixed(2)} Hz (timestep ${cfg.world.timestep} s x ${cfg.world.substeps} substeps)`,
    `  observation   Box(${obs.length}): ${obs.join(', ')}`,
    discrete
      ? `  action        Discrete(${JSON.stringify(discrete)})`
      : `  action        Box(${acts.length}): ${acts.map((a) => `${a.name} [${a.low}, ${a.high}]`).join(', ')}`,
    ...cfg.cameras.map((c) => `  camera        ${c.name} ${c.resolution[0]}x${c.resolution[1]}: ${c.channels.join(', ')}`),
    `  expert        ${cfg.expert ? `yes (${cfg.expert.rules.length} rule${cfg.expert.rules.length === 1 ? '' : 's'})` : 'none (policies: random, noise, onnx:PATH)'}`,
    `  config hash   ${env.hash.slice(0, 16)}`,
    // The keys `trajforge play` maps to this action space (the same table the page shows).
    ...helpLines(keyMapForConfig(cfg)).map((l, i) => `  ${i === 0 ? 'play keys' : ''.padEnd(9)}     ${l.keys.padEnd(18)} ${l.what}`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
