/**
 * `npm run build`'s second step: the viewer's and play's browser bundles into dist/web, where the
 * compiled server (dist/web/bundle.js) reads them. Minified; everything inlined (no CDN).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildWebBundle, WEB_APPS } from '../src/web/bundle.js';

const out = new URL('../dist/web/', import.meta.url);
mkdirSync(out, { recursive: true });
for (const app of WEB_APPS) {
  const bundle = await buildWebBundle(app, { minify: true });
  writeFileSync(new URL(`${app}.bundle.js`, out), bundle.js);
  writeFileSync(new URL(`${app}.bundle.css`, out), bundle.css);
}
