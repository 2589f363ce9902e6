import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, readmeExamples, toSources } from './readme-examples.js';

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

  it('the README documents an example per part of the API, each with its output', () => {
    expect(examples.map((e) => e.name)).toEqual(['env', 'render', 'generate', 'open', 'train', 'model', 'commands']);
    for (const e of examples) expect(e.expected.length, `README.md:${e.line}: example '${e.name}' documents no output`).toBeGreaterThan(0);
  });

  for (const example of examples) {
    it(`example '${example.name}' (README.md:${example.line}) runs and prints what it documents`, () => {
      const r = runExample(example.name, example.code);
      expect(r.status, `stderr:\n${r.stderr}`).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toEqual(example.expected);
    }, 240_000);
  }
});
