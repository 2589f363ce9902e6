/** A policy over one world model's latent runs only with that model: the latent of another means nothing to it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readModelCard } from '../../../src/model/store.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

it('encode and bc record the model behind a latent; dream with another model refuses the policy, with its own runs it', async () => {
  const root = tmpDir();
  const run = async (args: string[]) => {
    const r = await cli(args, root);
    expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
  };
  for (const [data, seed] of [['a', '0'], ['b', '1']] as const) await run(['generate', 'PushCube-v1', '--episodes', '6', '--seed', seed, '--workers', '0', '--channels', 'rgb', '--out', data]);
  await run(['train', 'a', '--model', 'linear', '--latent', '8', '--out', 'ma']);
  await run(['train', 'b', '--model', 'linear', '--latent', '8', '--out', 'mb']);
  await run(['encode', 'a', '--model', 'ma', '--out', 'ae']);
  await run(['bc', 'ae', '--input', 'observation.latent', '--steps', '50', '--out', 'pol']);
  const a = readModelCard(join(root, 'ma')).id;
  const b = readModelCard(join(root, 'mb')).id;
  expect(JSON.parse(readFileSync(join(root, 'ae/meta/trajforge.json'), 'utf8')).extra_features).toEqual([expect.objectContaining({ key: 'observation.latent', model_id: a })]);
  expect(JSON.parse(readFileSync(join(root, 'pol/policy.json'), 'utf8')).input).toMatchObject({ name: 'latent', model_id: a });
  const other = await cli(['dream', '--model', 'mb', '--env', 'PushCube-v1', '--policy', 'onnx:pol/policy.onnx', '--episodes', '1', '--out', 'd-other'], root);
  expect(other.code).toBe(2);
  expect(other.err).toContain(`error[E_POLICY_INVALID]: pol/policy.onnx reads the latent of world model ${a} (its card policy.json), but this model is ${b}`);
  await run(['dream', '--model', 'ma', '--env', 'PushCube-v1', '--policy', 'onnx:pol/policy.onnx', '--episodes', '1', '--out', 'd-own']);
}, 120_000);
