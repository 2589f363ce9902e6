/**
 * README.md at a LeRobot dataset's root: the dataset card the Hugging Face Hub shows and LeRobot
 * users expect, generated from the metadata (nothing timed, so it is as reproducible as the data):
 * what the episodes are, where they came from, their features, and how to load them with
 * LeRobot, pandas and DuckDB. Paths in it are relative to the dataset folder.
 */
import type { DatasetMeta } from '../../dataset/meta.js';
import type { Feature } from './format.js';

export interface CardFigures {
  episodes: number;
  frames: number;
  successes: number;
}

/** A run's policy in words: kind (or ONNX file), then its perturbation. */
function policyText(run: DatasetMeta['run']): string {
  const p = run.policy as { kind: string; noise: number; epsilon: number; file?: string; sha256?: string };
  const policy = p.kind === 'onnx' ? `ONNX policy ${p.file} (sha256 ${p.sha256?.slice(0, 12)})` : p.kind;
  return p.noise > 0 || p.epsilon > 0 ? `${policy}, action noise ${p.noise}, random actions with probability ${p.epsilon}` : policy;
}

export function datasetCard(meta: DatasetMeta, features: Record<string, Feature>, figures: CardFigures): string {
  const policy = policyText(meta.run);
  const src = meta.source;
  const runs = meta.origins
    ? `merged from ${meta.origins.length} runs (each episode's run: \`origin\` in meta/episodes): ${meta.origins.map((o, i) => `${i}: ${o.episodes} episodes, policy ${policyText(o.run)}, seed ${o.run.seed}, ${o.run.codec}`).join('; ')}`
    : '';
  const source =
    runs && (!src || src.kind === 'simulator' || src.kind === 'teleop')
      ? `${src?.kind === 'teleop' ? 'driven by a person (trajforge play)' : 'simulated (trajforge, Rapier3D)'}, ${runs}`
      : (!src || src.kind === 'simulator') && !meta.config
      ? 'recorded by another tool (a LeRobot dataset converted by trajforge convert; each episode closed by its last row)'
      : !src || src.kind === 'simulator'
      ? `simulated (trajforge, Rapier3D), policy: ${policy}; seed ${meta.run.seed}`
      : src.kind === 'teleop'
        ? `driven by a person in trajforge play (keyboard or gamepad), each episode re-simulated from its seed and actions; seeds from ${meta.run.seed}`
      : src.kind === 'world-model'
        ? `dreamed by a world model (model ${src.modelId ?? '?'}), policy: ${policy}`
        : `video labelled by a world model's inverse dynamics (model ${src.modelId ?? '?'}); per-episode source files in meta/episodes (source_file, source_from_frame, source_to_frame)`;
  const rate = figures.episodes > 0 ? `${((100 * figures.successes) / figures.episodes).toFixed(1)} %` : 'n/a';
  const rows = Object.entries(features).map(([k, f]) => {
    const shape = (f.shape ?? []).join(' x ') || 'scalar';
    const names = Array.isArray(f.names) && f.names.length <= 16 && f.names.every((n) => typeof n === 'string') ? (f.names as string[]).join(', ') : '';
    return `| \`${k}\` | ${f.dtype} | ${shape} | ${names} |`;
  });
  return [
    '---',
    'tags:',
    '  - LeRobot',
    '  - trajforge',
    '  - robotics',
    'task_categories:',
    '  - robotics',
    'configs:',
    '  - config_name: default',
    '    data_files: data/*/*.parquet',
    '---',
    '',
    `# ${meta.envId}`,
    '',
    meta.instruction,
    '',
    '| | |',
    '|---|---|',
    meta.config
      ? `| environment | \`${meta.envId}\`, config hash \`${meta.configHash.slice(0, 16)}\` (the full config is in meta/trajforge.json) |`
      : `| robot | \`${meta.envId}\` (no environment config: hash \`${meta.configHash.slice(0, 16)}\` of what its source declares) |`,
    `| episodes | ${figures.episodes} (${figures.frames} frames at ${meta.fps} fps), success ${rate} |`,
    `| source | ${source} |`,
    `| cameras | ${meta.cameras.map((c) => `${c.name} ${c.width}x${c.height} (${c.channels.join(', ')})`).join('; ') || 'none'} |`,
    `| video codec | ${meta.run.codec} |`,
    `| format | LeRobot v3.0 (meta/info.json), written by trajforge |`,
    '',
    '## Features',
    '',
    '| key | dtype | shape | names |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## Load it',
    '',
    'LeRobot (from this folder):',
    '',
    '```python',
    'from lerobot.datasets.lerobot_dataset import LeRobotDataset',
    `ds = LeRobotDataset("local/${meta.envId.toLowerCase()}", root=".")`,
    '```',
    '',
    'pandas / DuckDB (the tables; videos under videos/):',
    '',
    '```python',
    'import pandas as pd',
    'df = pd.read_parquet("data")',
    '```',
    '',
    '```sql',
    "SELECT episode_index, frame_index, action FROM 'data/*/*.parquet';",
    '```',
    '',
    'trajforge: `npx trajforge inspect .`, `npx trajforge info .`, `npx trajforge validate .`',
    '',
  ].join('\n');
}
