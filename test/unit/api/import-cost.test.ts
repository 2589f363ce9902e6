import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, readmeExamples } from './readme-examples.js';

/**
 * The package as users get it: compiled (tsc -p tsconfig.build.json into a scratch copy of the
 * package, node_modules linked), imported by name through package.json's "exports". Importing it
 * must load no native addon and no WASM, and take under 150 ms.
 */
const HEAVY = ['onnxruntime-node', 'onnxruntime-common', 'parquet-wasm', 'h5wasm', '@dimforge/rapier3d-compat', 'hyparquet', 'hyparquet-compressors', 'hyparquet-writer', 'apache-arrow', '@ffmpeg-installer'];
const IMPORT_BUDGET_MS = 150;

let pkg: string;

/** Runs `code` as an ES module in the package folder (so `trajforge` resolves to itself), returning its stdout's JSON. */
function probe(code: string, env: Record<string, string> = {}, args: string[] = []): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', code], { cwd: pkg, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** Import time of `spec` in a fresh process, plus the native addons loaded and the WebAssembly compilations made by the import. */
function importOnce(spec: string): { ms: number; addons: string[]; wasm: number } {
  return probe(`
    let wasm = 0;
    for (const k of ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming', 'validate']) {
      const f = WebAssembly[k];
      if (typeof f === 'function') WebAssembly[k] = function (...a) { wasm++; return f.apply(this, a); };
    }
    WebAssembly.Module = new Proxy(WebAssembly.Module, { construct(M, a) { wasm++; return new M(...a); } });
    const t0 = performance.now();
    await import(${JSON.stringify(spec)});
    const ms = performance.now() - t0;
    const addons = process.report.getReport().sharedObjects.filter((s) => s.endsWith('.node'));
    console.log(JSON.stringify({ ms, addons, wasm }));
  `) as { ms: number; addons: string[]; wasm: number };
}

/** Packages (under node_modules) whose files `spec`'s import resolves, through a module.register hook. */
function packagesLoaded(spec: string): string[] {
  const log = join(pkg, `resolved-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  probe(`await import(${JSON.stringify(spec)}); console.log('{}');`, { TF_RESOLVE_LOG: log }, ['--import', './register-hooks.mjs']);
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  rmSync(log);
  const names = urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((n): n is string => n !== undefined);
  return [...new Set(names)].sort();
}

describe('the built package', () => {
  beforeAll(() => {
    pkg = mkdtempSync(join(tmpdir(), 'tf-package-'));
    const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--sourceMap', 'false'], { encoding: 'utf8' });
    if (!existsSync(join(pkg, 'dist', 'index.js'))) throw new Error(`tsc emitted no dist/index.js:\n${build.stdout}${build.stderr}`);
    copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    symlinkSync(join(ROOT, 'environments'), join(pkg, 'environments'), 'dir');
    writeFileSync(
      join(pkg, 'register-hooks.mjs'),
      `import { register } from 'node:module';\nregister('./resolve-log.mjs', import.meta.url);\n`,
    );
    writeFileSync(
      join(pkg, 'resolve-log.mjs'),
      `import { appendFileSync } from 'node:fs';\nexport async function resolve(spec, context, next) {\n  const r = await next(spec, context);\n  appendFileSync(process.env.TF_RESOLVE_LOG, r.url + '\\n');\n  return r;\n}\n`,
    );
  }, 300_000);
  afterAll(() => {
    if (pkg) rmSync(pkg, { recursive: true, force: true });
  });

  it(`import('trajforge') loads no native addon and no WASM, in under ${IMPORT_BUDGET_MS} ms (fastest of 5 fresh processes)`, () => {
    const runs = [0, 1, 2, 3, 4].map(() => importOnce('trajforge'));
    const ms = Math.min(...runs.map((r) => r.ms));
    console.log(`import('trajforge'): ${runs.map((r) => r.ms.toFixed(1)).join(', ')} ms (fastest ${ms.toFixed(1)})`);
    for (const r of runs) {
      expect(r.addons).toEqual([]);
      expect(r.wasm).toBe(0);
    }
    expect(ms).toBeLessThan(IMPORT_BUDGET_MS);
  });

  it('importing trajforge, trajforge/dataset or trajforge/model resolves none of the heavy packages', () => {
    for (const spec of ['trajforge', 'trajforge/dataset', 'trajforge/model']) {
      const loaded = packagesLoaded(spec);
      console.log(`${spec} resolves: ${loaded.join(', ') || 'no package from node_modules'}`);
      expect(loaded.filter((p) => HEAVY.includes(p)), spec).toEqual([]);
    }
  });

  it('trajforge/env (the synchronous config API) loads no native addon and compiles no WASM', () => {
    const r = importOnce('trajforge/env');
    console.log(`import('trajforge/env'): ${r.ms.toFixed(1)} ms`);
    expect(r.addons).toEqual([]);
    expect(r.wasm).toBe(0);
    expect(packagesLoaded('trajforge/env').filter((p) => ['onnxruntime-node', 'parquet-wasm', 'h5wasm', 'hyparquet', 'apache-arrow'].includes(p))).toEqual([]);
  });

  it('each lazy function loads its implementation on the first call: errors are TrajforgeErrors of the root module, with codes', () => {
    const r = probe(`
      import { createEnv, generateDataset, openDataset, loadWorldModel, encodePng, TrajforgeError } from 'trajforge';
      import * as T from 'trajforge';
      import { loadEnv, PhysicsEnv } from 'trajforge/env';
      const codes = {};
      const attempt = async (name, f) => { try { await f(); codes[name] = 'ok'; } catch (e) { codes[name] = e instanceof TrajforgeError ? e.code : String(e); } };
      await attempt('createEnv', () => createEnv('NoSuchEnv-v1'));
      await attempt('generateDataset', () => generateDataset({ env: 'NoSuchEnv-v1', out: 'never-written' }));
      await attempt('openDataset', () => openDataset('no-such-dataset'));
      await attempt('loadWorldModel', () => loadWorldModel('no-such-model'));
      await attempt('encodePng', () => encodePng(1, 1, new Uint8Array(3)));
      await attempt('validateDataset', async () => { if ((await T.validateDataset({ dir: 'no-such-dataset' })).valid) throw new Error('valid'); });
      await attempt('mergeDatasets', () => T.mergeDatasets({ inputs: ['no-such-dataset'], out: 'never-written' }));
      await attempt('convertDataset', () => T.convertDataset({ src: 'no-such-dataset', to: 'dreamer', out: 'never-written' }));
      await attempt('trainWorldModel', () => T.trainWorldModel({ dataset: 'no-such-dataset', out: 'never-written' }));
      await attempt('encodeDataset', () => T.encodeDataset({ dataset: 'no-such-dataset', model: 'no-such-model', out: 'never-written' }));
      await attempt('predictEpisode', () => T.predictEpisode({ dataset: 'no-such-dataset', model: 'no-such-model', episode: 0, out: 'never-written.mp4' }));
      await attempt('dreamDataset', () => T.dreamDataset({ model: 'no-such-model', env: 'PushCube-v1', out: 'never-written' }));
      await attempt('evaluateWorldModel', () => T.evaluateWorldModel({ model: 'no-such-model', dataset: 'no-such-dataset' }));
      const env = await createEnv(loadEnv('PushCube-v1'));
      codes.env = env instanceof PhysicsEnv ? env.spec.id : 'not a PhysicsEnv';
      env.close();
      console.log(JSON.stringify(codes));
    `);
    expect(r).toEqual({
      createEnv: 'E_ENV_NOT_FOUND',
      generateDataset: 'E_ENV_NOT_FOUND',
      openDataset: 'E_DATASET_INVALID',
      loadWorldModel: 'E_USAGE',
      encodePng: 'ok',
      validateDataset: 'ok',
      mergeDatasets: 'E_DATASET_INVALID',
      convertDataset: 'E_DATASET_INVALID',
      trainWorldModel: 'E_DATASET_INVALID',
      encodeDataset: 'E_USAGE',
      predictEpisode: 'E_USAGE',
      dreamDataset: 'E_USAGE',
      evaluateWorldModel: 'E_USAGE',
      env: 'PushCube-v1',
    });
    expect(existsSync(join(pkg, 'never-written'))).toBe(false);
    expect(existsSync(join(pkg, 'never-written.mp4'))).toBe(false);
  });

  it("the README's library examples type-check against the published declarations (package.json exports' types)", () => {
    const dir = join(pkg, 'examples');
    mkdirSync(dir);
    const files = readmeExamples().map((e) => {
      const file = join(dir, `${e.name}.ts`);
      writeFileSync(file, `${e.code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
    });
    const resolved = program.getSourceFiles().map((f) => f.fileName);
    expect(resolved).toContain(join(pkg, 'dist', 'index.d.ts').replaceAll('\\', '/'));
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
    expect(ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), host)).toBe('');
  });
});
