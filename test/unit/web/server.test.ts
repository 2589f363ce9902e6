import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { json, parseRange, startWebServer, type WebServer } from '../../../src/web/server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request (fetch cannot set Host), so the host check and odd paths are tested as sent. */
function get(server: WebServer, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('web server', () => {
  let root: string;
  let server: WebServer;
  const notices: string[] = [];

  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), 'tf-web-'));
    root = join(base, 'data');
    mkdirSync(join(root, 'meta'), { recursive: true });
    writeFileSync(join(root, 'meta', 'info.json'), '{"fps": 10}');
    writeFileSync(join(root, 'bytes.bin'), Buffer.from('0123456789'));
    writeFileSync(join(base, 'secret.txt'), 'outside');
    symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
    symlinkSync(join(root, 'bytes.bin'), join(root, 'alias.bin'));
    server = await startWebServer({
      app: 'view',
      title: 'A <test>',
      files: root,
      maxBody: 1000,
      onNotice: (m) => notices.push(m),
      routes: [
        { method: 'GET', pattern: '/api/items/:id', handle: (req, p) => json({ id: p.id, q: req.query.get('q') }) },
        {
          method: 'GET',
          pattern: '/api/fail/:how',
          handle: (_req, p) => {
            if (p.how === 'input') throw new TrajforgeError('E_DATASET_INVALID', 'meta/info.json: features missing');
            if (p.how === 'absent') throw new TrajforgeError('E_ENV_NOT_FOUND', 'no environment Foo-v1');
            throw new Error('boom');
          },
        },
        { method: 'POST', pattern: '/api/echo', handle: async (req) => json({ got: await req.json() }) },
      ],
    });
  }, 120_000);
  afterAll(() => server?.close());

  it('listens on loopback and serves the page shell, its bundle and stylesheet', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await get(server, '/');
    expect(page.status).toBe(200);
    const html = page.body.toString();
    expect(html).toContain('<title>A &#60;test&#62;</title>');
    expect(html).toContain('<script type="module" src="/app.js">');
    expect(String(page.headers['content-security-policy'])).toContain("connect-src 'self'");
    const js = await get(server, '/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(1000);
    expect(js.body.toString()).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./);
    expect((await get(server, '/app.css')).status).toBe(200);
  });

  it('answers only requests addressed to itself (no DNS rebinding)', async () => {
    expect((await get(server, '/', { host: 'evil.example:80' })).status).toBe(421);
    expect((await get(server, '/', { host: `localhost:${server.port}` })).status).toBe(200);
  });

  it('routes with parameters and answers errors as JSON with the right status', async () => {
    expect(JSON.parse((await get(server, '/api/items/7?q=a%20b')).body.toString())).toEqual({ id: '7', q: 'a b' });
    const input = await get(server, '/api/fail/input');
    expect(input.status).toBe(400);
    expect(JSON.parse(input.body.toString())).toEqual({ error: { code: 'E_DATASET_INVALID', message: 'meta/info.json: features missing' } });
    expect((await get(server, '/api/fail/absent')).status).toBe(404);
    const internal = await get(server, '/api/fail/other');
    expect(internal.status).toBe(500);
    expect(internal.body.toString()).not.toContain('    at ');
    expect((await get(server, '/api/nothing')).status).toBe(404);
    expect((await get(server, '/api/items/7', {}, 'POST', '{}')).status).toBe(405);
  });

  it('reads JSON bodies, refuses malformed ones and bodies over the limit', async () => {
    expect(JSON.parse((await get(server, '/api/echo', { 'content-type': 'application/json' }, 'POST', '{"a":[1,2]}')).body.toString())).toEqual({ got: { a: [1, 2] } });
    const bad = await get(server, '/api/echo', {}, 'POST', '{nope');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error.message).toMatch(/not JSON/);
    expect((await get(server, '/api/echo', {}, 'POST', 'x'.repeat(2000))).status).toBe(413);
  });

  it('serves files under its folder only: no traversal, no symlink out, no directories', async () => {
    const ok = await get(server, '/files/meta/info.json');
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('{"fps": 10}');
    expect((await get(server, '/files/alias.bin')).body.toString()).toBe('0123456789');
    for (const path of ['/files/../package.json', '/files/meta/../../secret.txt', '/files/%2e%2e/secret.txt', '/files/meta%2F..%2F..%2Fsecret.txt', '/files/escape.txt', '/files/meta', '/files/', '/files/nope.bin', '/files/a%00b', '/files//etc/passwd']) {
      const r = await get(server, path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.body.toString(), path).not.toContain('outside');
    }
  });

  it('answers byte ranges, cuts ends past the file and refuses ranges past it', async () => {
    const part = await get(server, '/files/bytes.bin', { range: 'bytes=2-4' });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe('234');
    expect(part.headers['content-range']).toBe('bytes 2-4/10');
    expect((await get(server, '/files/bytes.bin', { range: 'bytes=7-' })).body.toString()).toBe('789');
    expect((await get(server, '/files/bytes.bin', { range: 'bytes=-3' })).body.toString()).toBe('789');
    const huge = await get(server, '/files/bytes.bin', { range: 'bytes=0-99999999999999999999999' });
    expect(huge.status).toBe(206);
    expect(huge.body.toString()).toBe('0123456789');
    const past = await get(server, '/files/bytes.bin', { range: 'bytes=10-20' });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */10');
    expect((await get(server, '/files/bytes.bin', { range: 'bytes=99999999999999999999-' })).status).toBe(416);
    const ignored = await get(server, '/files/bytes.bin', { range: 'bytes=0-1,4-5' });
    expect(ignored.status).toBe(200);
    expect(ignored.body.toString()).toBe('0123456789');
  });

  it('parses ranges by RFC 9110', () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange('bytes=3-1', 10)).toBeNull();
    expect(parseRange('items=0-1', 10)).toBeNull();
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=-50', 10)).toEqual([0, 9]);
    expect(parseRange('bytes=0-0', 0)).toBe('unsatisfiable');
  });

  it('refuses a port in use with a usage error, and warns when listening beyond loopback', async () => {
    await expect(startWebServer({ app: 'view', title: 't', port: server.port, routes: [] })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/in use.*--port/) });
    const open: string[] = [];
    const wide = await startWebServer({ app: 'view', title: 't', host: '0.0.0.0', routes: [], onNotice: (m) => open.push(m) });
    try {
      expect(open.join('\n')).toMatch(/not loopback/);
      expect((await get(wide, '/', { host: `some-name:${wide.port}` })).status).toBe(200);
    } finally {
      await wide.close();
    }
    expect(notices).toEqual([]);
  });
});
