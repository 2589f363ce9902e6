import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { capture } from '../../helpers/cli-io.js';

describe('trajforge CLI (in-process)', () => {
  it('envs lists every shipped environment with a description', async () => {
    const io = capture();
    expect(await main(['envs'], io)).toBe(0);
    for (const id of ['PushCube-v1', 'Reach-v1', 'CartPole-v1', 'FallingObjects-v1', 'StackCube-v1']) expect(io.stdout).toContain(id);
  });

  it('check validates, rolls out and reports', async () => {
    const io = capture();
    expect(await main(['check', 'CartPole-v1', '--expert-episodes', '3'], io)).toBe(0);
    expect(io.stdout).toMatch(/CartPole-v1: valid/);
    expect(io.stdout).toMatch(/observation\s+4 dims: slider.angle, slider.velocity, hinge.angle, hinge.velocity/);
    expect(io.stdout).toMatch(/expert\s+3\/3 successful/);
  });

  it('schema writes a JSON Schema file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-cli-'));
    const io = capture(dir);
    expect(await main(['schema', '--out', 'env.schema.json'], io)).toBe(0);
    const schema = JSON.parse(readFileSync(join(dir, 'env.schema.json'), 'utf8'));
    expect(schema.$schema).toMatch(/json-schema.org/);
    expect(schema.properties.bodies.type).toBe('array');
    expect(schema.additionalProperties).toBe(false);
  });

  it('an invalid config exits 2 with file, path and expectation, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'id: Bad-v1\nbodies:\n  - { name: b, shape: { type: sphere, radius: 0.1 }, mass: -2 }\n');
    const io = capture(dir);
    expect(await main(['generate', 'bad.yaml', '--out', 'out'], io)).toBe(2);
    expect(io.stderr).toMatch(/error\[E_CONFIG_INVALID\]: .*bad\.yaml: invalid environment config/);
    expect(io.stderr).toContain('bodies[0] (name: b).mass: expected a number > 0, found -2 (number)');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('unknown formats and codecs list the registry', async () => {
    const io = capture();
    expect(await main(['generate', 'PushCube-v1', '--out', '/tmp/never', '--format', 'hdf5'], io)).toBe(2);
    expect(io.stderr).toMatch(/unknown --format 'hdf5'.*\(known: lerobot, dreamer, minari, rlds, frames\)/);
    expect(await main(['generate', 'PushCube-v1', '--out', '/tmp/never', '--codec', 'mpeg2'], io)).toBe(2);
    expect(io.stderr).toMatch(/known: h264, av1, lossless/);
  });

  it('unknown environments and commands get suggestions', async () => {
    const io = capture();
    expect(await main(['check', 'Reech-v1'], io)).toBe(2);
    expect(io.stderr).toMatch(/E_ENV_NOT_FOUND.*closest known: Reach-v1/);
    const io2 = capture();
    expect(await main(['chek'], io2)).toBe(2);
    expect(io2.stderr).toMatch(/did you mean 'check'/);
  });

  it('generate writes a dataset and prints a summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-gen-'));
    const io = capture(dir);
    expect(await main(['generate', 'PushCube-v1', '--episodes', '3', '--out', 'ds', '--workers', '0', '--channels', 'rgb'], io)).toBe(0);
    expect(io.stdout).toMatch(/PushCube-v1 -> ds \(lerobot\)/);
    expect(io.stdout).toMatch(/episodes\s+3/);
    expect(io.stdout).toMatch(/success rate\s+100\.0%/);
    expect(io.stdout).toMatch(/throughput\s+\d+ steps\/s/);
    expect(existsSync(join(dir, 'ds', 'meta', 'info.json'))).toBe(true);
    expect(io.stderr).toMatch(/episodes 3\/3/); // plain progress lines off a terminal
  });

  it('bad option values are usage errors', async () => {
    const io = capture();
    expect(await main(['generate', 'PushCube-v1', '--episodes', 'many', '--out', '/tmp/never'], io)).toBe(2);
    expect(io.stderr).toMatch(/--episodes must be an integer/);
  });
});

describe('committed JSON Schema', () => {
  it('schema/environment.schema.json is up to date (regenerate: npm run schema)', async () => {
    const { envJsonSchema } = await import('../../../src/config/parse.js');
    const committed = JSON.parse(readFileSync(new URL('../../../schema/environment.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(envJsonSchema());
  });
});

describe('render command', () => {
  it('writes a PNG strip that an independent decoder reads', async () => {
    const { PNG } = await import('pngjs');
    const dir = mkdtempSync(join(tmpdir(), 'tf-render-'));
    const io = capture(dir);
    expect(await main(['render', 'FallingObjects-v1', '--seed', '2', '--step', '3', '--size', '48x32', '--out', 'f.png'], io)).toBe(0);
    const png = PNG.sync.read(readFileSync(join(dir, 'f.png')));
    expect([png.width, png.height]).toEqual([48 * 4, 32]); // rgb | depth | segmentation | flow
    expect(io.stdout).toMatch(/tiles: rgb \| depth \| segmentation \| flow/);
  });

  it('rejects unknown cameras and channels', async () => {
    const io = capture();
    expect(await main(['render', 'PushCube-v1', '--camera', 'side', '--out', '/tmp/x.png'], io)).toBe(2);
    expect(io.stderr).toMatch(/no camera 'side' \(cameras: top\)/);
    expect(await main(['render', 'PushCube-v1', '--channels', 'rgb,heat', '--out', '/tmp/x.png'], io)).toBe(2);
  });
});
