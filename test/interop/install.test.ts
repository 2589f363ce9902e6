/**
 * trajforge installed the way users install it: `npm pack`, then `npm install <tarball>` into a
 * fresh project with no project or user .npmrc. npm's registry is the only network source
 * (`--prefer-offline`: npm's cache, which `npm ci` filled, first; the registry for what `npm ci`
 * did not cache, such as the full package documents `npm install` asks for where `npm ci` asks for
 * the abbreviated ones). onnxruntime-node's install script cannot fetch its CUDA libraries from
 * outside the registry, so npm leaves that optional dependency out, and the models run on
 * onnxruntime-web's WebAssembly build. Interop: it needs the npm registry and a few minutes.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeClip } from '../../src/video/clip.js';
import { squareFrames, writeCentroidModel } from '../helpers/analytic-model.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let project: string;
let install: { status: number | null; stdout: string; stderr: string };

/** node_modules folders above `dir`: Node resolves packages there too, so the project would not stand alone. */
function inheritedModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

beforeAll(() => {
  const work = mkdtempSync(join(tmpdir(), 'tf-install-'));
  // A stray node_modules above the project (e.g. a link left in /tmp) would hand it onnxruntime-node.
  const inherited = inheritedModules(work);
  if (inherited.length > 0) throw new Error(`${inherited.join(', ')} lies above the test project and Node would resolve packages from it; remove it or set TMPDIR elsewhere`);
  // prepack builds dist/ from these sources.
  const packed = execFileSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  project = join(work, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-trajforge', version: '1.0.0', type: 'module', private: true }));
  // A home without .npmrc; the machine's npm cache is the first package source.
  const home = join(work, 'home');
  execFileSync('mkdir', ['-p', home]);
  // --no-update-notifier: with the registry reachable, npm would also print its own upgrade notice.
  const r = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', '--cache', join(homedir(), '.npm'), join(work, packed)], {
    cwd: project,
    encoding: 'utf8',
    // npm passes its config to scripts as npm_config_* variables (e.g. a developer's
    // ONNXRUNTIME_NODE_INSTALL=skip): a user's install has none of them.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), HOME: home, npm_config_userconfig: join(home, '.npmrc') },
  });
  install = { status: r.status, stdout: r.stdout, stderr: r.stderr };
}, 600_000);

describe('npm install trajforge (as a dependency, no network beyond the registry)', () => {
  it('installs without errors; the native onnxruntime is left out, nothing else fails', () => {
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/npm error|ERR!/);
    // npm 11 lists packages whose install scripts it has not been told to allow; nothing else is said.
    const other = install.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn install-scripts'));
    expect(other, install.stderr).toEqual([]);
    const modules = readdirSync(join(project, 'node_modules'));
    expect(modules).toContain('onnxruntime-web');
    expect(existsSync(join(project, 'node_modules', 'onnxruntime-node'))).toBe(false);
  });

  it('imports the library, runs `trajforge generate`, and labels a video on the WebAssembly runtime', () => {
    const bin = join(project, 'node_modules', '.bin', 'trajforge');
    const run = (args: string[]) => spawnSync(bin, args, { cwd: project, encoding: 'utf8' });
    const imported = spawnSync(process.execPath, ['--input-type=module', '-e', "const t = await import('trajforge'); const m = await import('trajforge/model'); console.log(typeof t.generateDataset, await m.onnxBackend())"], { cwd: project, encoding: 'utf8' });
    expect(imported.stdout.trim()).toBe('function wasm');
    const gen = run(['generate', 'PushCube-v1', '--episodes', '2', '--out', 'ds']);
    expect(gen.status, gen.stderr).toBe(0);
    expect(run(['validate', 'ds']).status).toBe(0);

    writeCentroidModel(join(project, 'model'), { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 8, residualScale: 0.05 });
    const actions = Float32Array.from({ length: 40 }, (_, i) => 0.4 * Math.sin(i));
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, 12);
    writeClip(join(project, 'clip.mp4'), frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    const label = run(['label', 'clip.mp4', '--model', 'model', '--out', 'labelled']);
    expect(label.status, label.stderr).toBe(0);
    expect(label.stdout).toContain('episodes      1 of up to 100 steps, 20 steps');
  });

  it('serves `trajforge view` from the shipped browser bundle and stops on Ctrl-C with exit 0', async () => {
    const bin = join(project, 'node_modules', '.bin', 'trajforge');
    if (!existsSync(join(project, 'ds'))) expect(spawnSync(bin, ['generate', 'PushCube-v1', '--episodes', '2', '--out', 'ds'], { cwd: project }).status).toBe(0);
    const view = spawn(bin, ['view', 'ds'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((done) => view.on('close', (code) => done(code)));
    let out = '';
    const url = await new Promise<string>((done, fail) => {
      view.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) done(m[1]!);
      });
      void exited.then(() => fail(new Error(`view exited before serving: ${out}`)));
    });
    const app = await fetch(`${url}app.js`);
    expect(app.status).toBe(200);
    expect((await app.text()).length).toBeGreaterThan(10_000);
    expect(((await (await fetch(`${url}api/dataset`)).json()) as { episodes: unknown[] }).episodes).toHaveLength(2);
    view.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
