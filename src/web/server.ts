/**
 * The local web server behind `trajforge view` and `trajforge play`: one HTML shell, the app's
 * bundle, a JSON/binary API of routes, and optionally a folder served read-only. It listens on
 * loopback unless a host is given, answers only requests addressed to the host it listens on (a
 * page elsewhere cannot reach it through DNS rebinding), and serves nothing outside that folder.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { webBundle, type WebApp } from './bundle.js';

export interface WebRequest {
  method: string;
  /** The decoded path, without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The request body (refused past the server's maxBody with 413). */
  body(): Promise<Buffer>;
  /** The body as JSON; malformed JSON is an E_USAGE error (400). */
  json(): Promise<unknown>;
}

export interface WebResponse {
  status?: number;
  type: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST';
  /** A path with `:name` segments, e.g. `/api/episodes/:index`. */
  pattern: string;
  handle(req: WebRequest, params: Record<string, string>): WebResponse | Promise<WebResponse>;
}

export interface WebServerOptions {
  app: WebApp;
  /** The page's title. */
  title: string;
  /** 127.0.0.1 unless given; anything else is announced through onNotice. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  routes: Route[];
  /** A folder served read-only under /files/ (Range requests supported). */
  files?: string;
  /** Largest request body accepted, in bytes (default 64 MiB). */
  maxBody?: number;
  onNotice?: (message: string) => void;
}

export interface WebServer {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

export const LOOPBACK = '127.0.0.1';

export function json(value: unknown, status = 200): WebResponse {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

export function binary(bytes: Uint8Array, headers: Record<string, string> = {}): WebResponse {
  return { type: 'application/octet-stream', body: bytes, headers };
}

/** HTTP status of an error a handler throws: the user's input (400), something absent (404), else 500. */
export function errorStatus(e: unknown): number {
  if (!(e instanceof TrajforgeError)) return 500;
  if (e.code === 'E_ENV_NOT_FOUND' || e.code === 'E_CONFIG_NOT_FOUND') return 404;
  return e.exitCode === 2 ? 400 : 500;
}

// The bundle is ES2022 with inlined WASM (Rapier's compat build): it needs 'wasm-unsafe-eval' and
// nothing from another origin.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'";

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? LOOPBACK;
  const maxBody = opts.maxBody ?? 64 * 2 ** 20;
  const routes = opts.routes.map((r) => ({ ...r, match: compilePattern(r.pattern) }));
  const filesRoot = opts.files === undefined ? undefined : realpathSync(resolve(opts.files));
  await webBundle(opts.app); // a missing bundle fails the command now, not the first page load
  // Filled once the port is known; until then no request is answered.
  let addressedToUs: (host: string) => boolean = () => false;
  let ownName = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => sendError(res, e));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!addressedToUs((req.headers.host ?? '').toLowerCase())) {
      send(res, { status: 421, type: 'text/plain; charset=utf-8', body: `this server answers requests for ${ownName} only\n` });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://local');
    // Each segment is decoded on its own, so an encoded slash stays inside its segment (a camera
    // name) instead of changing which route matches.
    let segments: string[];
    try {
      segments = url.pathname.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw new TrajforgeError('E_USAGE', `malformed URL path ${url.pathname.slice(0, 200)}: a %-escape is not UTF-8`);
    }
    const path = segments.join('/');
    const method = req.method ?? 'GET';
    if (method === 'GET' && (path === '/' || path === '/index.html')) return send(res, { type: 'text/html; charset=utf-8', body: shell(opts.title) });
    if (method === 'GET' && path === '/app.js') return send(res, { type: 'text/javascript; charset=utf-8', body: (await webBundle(opts.app)).js });
    if (method === 'GET' && path === '/app.css') return send(res, { type: 'text/css; charset=utf-8', body: (await webBundle(opts.app)).css });
    if (method === 'GET' && path === '/favicon.ico') return send(res, { status: 204, type: 'image/x-icon', body: '' });
    if (filesRoot !== undefined && (method === 'GET' || method === 'HEAD') && path.startsWith('/files/')) return sendFile(req, res, filesRoot, url.pathname.slice('/files/'.length));
    for (const r of routes) {
      const params = r.match(segments);
      if (!params) continue;
      if (r.method !== method) continue;
      const request: WebRequest = { method, path, query: url.searchParams, headers: req.headers, body: () => readBody(req, maxBody), json: async () => parseJson(await readBody(req, maxBody)) };
      return send(res, await r.handle(request, params));
    }
    const known = routes.some((r) => r.match(segments));
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    send(res, json({ error: { code: known ? 'E_USAGE' : 'E_NOT_FOUND', message: known ? `${method} is not allowed on ${shown}` : `no such page or API: ${shown}` } }, known ? 405 : 404));
  }

  await new Promise<void>((done, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? `port ${opts.port} is in use; pick another with --port or leave it out for a free one` : e.code === 'EACCES' ? `no permission to listen on port ${opts.port}; use a port above 1023` : e.message;
      fail(new TrajforgeError(e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? 'E_USAGE' : 'E_IO', `cannot listen on ${host}:${opts.port ?? 0}: ${why}`));
    });
    server.listen(opts.port ?? 0, host, () => done());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const shown = host.includes(':') ? `[${host}]` : host;
  ownName = `${shown}:${port}`;
  const loopback = host === LOOPBACK || host === 'localhost' || host === '::1';
  const names = new Set([ownName, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].map((h) => h.toLowerCase()));
  // Beyond loopback its users reach it by whatever names they have for this machine.
  addressedToUs = loopback ? (h) => names.has(h) : () => true;
  if (!loopback) {
    opts.onNotice?.(`listening on ${host}, not loopback: anyone who can reach this machine on port ${port} can read what this page shows`);
  }
  server.keepAliveTimeout = 2_000;
  return {
    url: `http://${shown === '0.0.0.0' ? LOOPBACK : shown}:${port}/`,
    port,
    host,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function shell(title: string): string {
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc}</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<div id="app"><noscript>This page needs JavaScript.</noscript></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

function send(res: ServerResponse, r: WebResponse): void {
  const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
  res.writeHead(r.status ?? 200, {
    'content-type': r.type,
    'content-length': String(body.byteLength),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
    ...r.headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = e instanceof HttpError ? e.status : errorStatus(e);
  const code = e instanceof TrajforgeError ? e.code : e instanceof HttpError ? 'E_USAGE' : 'E_INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  send(res, json({ error: { code, message } }, status));
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `/api/episodes/:index` -> a matcher of a path's decoded segments returning the named ones, or null. */
function compilePattern(pattern: string): (segs: string[]) => Record<string, string> | null {
  const parts = pattern.split('/');
  return (segs) => {
    if (segs.length !== parts.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.startsWith(':')) {
        if (segs[i] === '') return null;
        params[p.slice(1)] = segs[i]!;
      } else if (p !== segs[i]) return null;
    }
    return params;
  };
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new HttpError(413, `request body of ${declared} bytes is over the limit of ${max}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new HttpError(413, `request body is over the limit of ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new TrajforgeError('E_USAGE', `request body is not JSON: ${(e as Error).message}`);
  }
}

const TYPES: Record<string, string> = {
  json: 'application/json',
  parquet: 'application/vnd.apache.parquet',
  mp4: 'video/mp4',
  png: 'image/png',
  md: 'text/markdown; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  jsonl: 'application/jsonl',
};

/**
 * A file under root, by its URL path (still percent-encoded: each segment is decoded on its own, so
 * an encoded slash cannot build a path). Refuses `..`, absolute paths, NUL, anything that resolves
 * (through symlinks) outside root, and anything but a regular file.
 */
function sendFile(req: IncomingMessage, res: ServerResponse, root: string, encoded: string): void {
  let segments: string[];
  try {
    segments = encoded.split('/').map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(400, 'malformed file path');
  }
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0') || s.includes('/') || s.includes('\\'))) throw new HttpError(404, `no such file: ${encoded}`);
  const path = resolve(root, ...segments);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new HttpError(404, `no such file: ${segments.join('/')}`);
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) throw new HttpError(404, `no such file: ${segments.join('/')}`);
  const stat = statSync(real);
  if (!stat.isFile()) throw new HttpError(404, `not a file: ${segments.join('/')}`);
  const ext = real.slice(real.lastIndexOf('.') + 1).toLowerCase();
  const headers: Record<string, string | number> = {
    'content-type': TYPES[ext] ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
  };
  const range = parseRange(req.headers.range, stat.size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${stat.size}`, 'content-length': 0 });
    res.end();
    return;
  }
  const [start, end] = range ?? [0, stat.size - 1];
  res.writeHead(range ? 206 : 200, { ...headers, 'content-length': Math.max(0, end - start + 1), ...(range ? { 'content-range': `bytes ${start}-${end}/${stat.size}` } : {}) });
  if (req.method === 'HEAD' || stat.size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(real, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * One `bytes=` range (RFC 9110): [start, end] inclusive, null for none or a header to ignore
 * (malformed, or several ranges: the whole file is the valid answer), 'unsatisfiable' when it
 * starts past the end. An end past the file is cut to the file, however large.
 */
export function parseRange(header: string | undefined, size: number): [number, number] | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (!Number.isFinite(suffix) || suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (end < start) return null;
  return [start, end];
}
