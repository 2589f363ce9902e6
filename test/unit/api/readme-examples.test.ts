import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, readmeExamples, toSources } from './readme-examples.js';
import { runCommand } from '../../helpers/cli-io.js';

/**
 * The README's library examples run as written (imports pointed at the sources), in README order
 * in one folder: later examples read what earlier ones wrote. Each must exit 0 and print exactly
 * the `// →` lines it documents.
 */
const examples = readmeExamples();
let dir: string;

function runExample(name: string, code: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, `${toSources(code)}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('README library examples', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tf-readme-'));
    // Node resolves tsx (and the generate workers' loader) from the examples' folder.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the README documents env, render, generate, open and model examples, each with its output', () => {
    expect(examples.map((e) => e.name)).toEqual(expect.arrayContaining(['env', 'render', 'generate', 'open', 'model']));
    for (const e of examples) expect(e.expected.length, `README.md:${e.line}: example '${e.name}' documents no output`).toBeGreaterThan(0);
  });

  for (const example of examples) {
    it(`example '${example.name}' (README.md:${example.line}) runs and prints what it documents`, async () => {
      if (example.name === 'model' && !examples.some((e) => e.name === 'train') && !existsSync(join(dir, 'models', 'pushcube-small'))) {
        // The model the example loads: a quick one on the dataset the generate example wrote.
        const t = await runCommand('train', ['data/pushcube-small', '--out', 'models/pushcube-small', '--epochs', '1', '--hidden', '16', '--latent', '26', '--keypoints', '2', '--rollout', '2'], dir);
        expect(t.code, t.stderr).toBe(0);
      }
      const r = runExample(example.name, example.code);
      expect(r.status, `stderr:\n${r.stderr}`).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toEqual(example.expected);
    }, 240_000);
  }
});
