/**
 * The browser bundles of the viewer and play pages. `npm run build` writes them next to this
 * module (dist/web/<app>.bundle.js/.css) so the published package serves files it ships; running
 * from source (tsx, vitest) builds them in memory with esbuild, so a test always sees the code it
 * tests. Nothing in a bundle is fetched from outside the page's own server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TrajforgeError } from '../core/errors.js';

export type WebApp = 'view' | 'play';
export const WEB_APPS: readonly WebApp[] = ['view', 'play'];

export interface WebBundle {
  js: string;
  css: string;
}

const built = new Map<WebApp, Promise<WebBundle>>();
const fromSource = import.meta.url.endsWith('.ts');

/** The app's bundle: shipped files when compiled, an in-memory esbuild build when run from source. */
export function webBundle(app: WebApp): Promise<WebBundle> {
  let bundle = built.get(app);
  if (!bundle) {
    bundle = fromSource ? buildWebBundle(app) : Promise.resolve(readShipped(app));
    built.set(app, bundle);
    bundle.catch(() => built.delete(app));
  }
  return bundle;
}

function readShipped(app: WebApp): WebBundle {
  const js = fileURLToPath(new URL(`./${app}.bundle.js`, import.meta.url));
  const css = fileURLToPath(new URL(`./${app}.bundle.css`, import.meta.url));
  if (!existsSync(js)) throw new TrajforgeError('E_INTERNAL', `the ${app} page's bundle ${js} is missing; run \`npm run build\` (a published package ships it)`);
  return { js: readFileSync(js, 'utf8'), css: existsSync(css) ? readFileSync(css, 'utf8') : '' };
}

/**
 * Bundles src/web/<app>/main.ts for the browser. esbuild is a development dependency: a published
 * package never calls this (it ships the built files).
 */
export async function buildWebBundle(app: WebApp, options: { minify?: boolean } = {}): Promise<WebBundle> {
  const entry = fileURLToPath(new URL(`./${app}/main${fromSource ? '.ts' : '.js'}`, import.meta.url));
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: options.minify ?? false,
    outdir: 'out',
    entryNames: 'app',
    logLevel: 'silent',
    legalComments: 'none',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!js) throw new TrajforgeError('E_INTERNAL', `esbuild produced no JavaScript for ${entry}`);
  return { js: js.text, css: css?.text ?? '' };
}
