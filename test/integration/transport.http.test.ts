/**
 * Browser mode over real sockets: a real server on port 0 in front of a real station, driven with
 * Node's fetch, raw node:http requests (for paths and headers fetch would normalise) and the ws client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiResponse, StationEvent } from '../../src-main/api/contract.ts';
import { Station } from '../../src-main/services/station.ts';
import { createProject, openProject } from '../../src-main/store/index.ts';
import { startBrowserServer, type BrowserServer } from '../../src-main/transport/http-server.ts';

const MAX_BODY = 64 * 1024;
let work: string;
let rendererDir: string;
let host: Station;
let server: BrowserServer;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'argus-http-'));
  rendererDir = join(work, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Argus</title><script type="module" src="/assets/app.js"></script>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log("argus");');
  writeFileSync(join(rendererDir, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(rendererDir, '.hidden'), 'secret');
  writeFileSync(join(work, 'secret.txt'), 'outside the renderer');
  host = new Station();
  server = await startBrowserServer(host, { port: 0, rendererDir, maxBodyBytes: MAX_BODY });
});

afterAll(async () => {
  await server?.close();
  await host?.close();
  rmSync(work, { recursive: true, force: true });
});

function call(method: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.origin}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json', ...headers },
    body,
  });
}

async function callJson(method: string, input: unknown): Promise<ApiResponse<unknown>> {
  const res = await call(method, JSON.stringify(input));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as ApiResponse<unknown>;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with exactly this path and these headers (fetch would normalise `..` and set Host itself). */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function wsOutcome(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', reject);
  });
}

describe('browser-mode server', () => {
  it('prints a URL carrying the token and binds 127.0.0.1 only', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#token=${server.token}`);
    expect(server.token).toMatch(/^[0-9a-f]{64}$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers 401 without the token or with a wrong one', async () => {
    for (const headers of [{ Authorization: '' }, { Authorization: `Bearer ${'0'.repeat(64)}` }, { Authorization: server.token }]) {
      const res = await call('project.current', '{}', headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    }
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const res = await raw('/api/project.current', { Host: 'evil.example:80', Authorization: `Bearer ${server.token}` }, 'POST');
    expect([403, 421]).toContain(res.status);
    const page = await raw('/', { Host: `evil.example:${server.port}` });
    expect([403, 421]).toContain(page.status);
    const ok = await raw('/', { Host: `localhost:${server.port}` });
    expect(ok.status).toBe(200);
  });

  it('refuses a foreign Origin on /api and accepts its own', async () => {
    const foreign = await call('project.current', '{}', { Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const lower = await call('project.current', '{}', { Authorization: `bearer ${server.token}` });
    expect(lower.status).toBe(200);
    const own = await call('project.current', '{}', { Origin: server.origin });
    expect(own.status).toBe(200);
  });

  it('answers 405 to other HTTP methods on /api', async () => {
    const res = await fetch(`${server.origin}/api/project.current`, { headers: { Authorization: `Bearer ${server.token}` } });
    expect(res.status).toBe(405);
  });

  it('passes unknown methods and invalid bodies to the station, which answers with codes', async () => {
    expect(await callJson('project.explode', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
    expect(await callJson('project.open', { dir: 42 })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await callJson('project.current', { unexpected: true })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
  });

  it('answers malformed JSON with INVALID_REQUEST and an empty body as {}', async () => {
    const bad = await call('project.current', '{"dir": ');
    expect(bad.status).toBe(200);
    expect(await bad.json()).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const empty = await call('project.current', undefined);
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({ ok: true });
  });

  it('answers 413 to a body over the limit, and the next call still works', async () => {
    const res = await call('project.open', JSON.stringify({ dir: 'x'.repeat(MAX_BODY + 10) }));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await callJson('project.current', {})).toMatchObject({ ok: true });
  });

  it('round-trips project.create and project.current, and pushes the project event over the WebSocket', async () => {
    const refused = await wsOutcome(`ws://127.0.0.1:${server.port}/events`);
    expect(refused).toEqual({ status: 401 });
    const wrong = await wsOutcome(`ws://127.0.0.1:${server.port}/events?token=${'f'.repeat(64)}`);
    expect(wrong).toEqual({ status: 401 });
    const foreign = await wsOutcome(`ws://127.0.0.1:${server.port}/events?token=${server.token}`, { Origin: 'http://evil.example' });
    expect(foreign).toEqual({ status: 403 });

    const opened = await wsOutcome(`ws://127.0.0.1:${server.port}/events?token=${server.token}`, { Origin: server.origin });
    if (!('ws' in opened)) throw new Error(`WebSocket refused: ${opened.status}`);
    const ws = opened.ws;
    const received = new Promise<StationEvent>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)) as StationEvent)));

    const dir = join(work, 'project');
    const created = await callJson('project.create', { dir, name: 'Brackets' });
    expect(created).toMatchObject({ ok: true, value: { dir, name: 'Brackets', readonly: false } });
    const current = await callJson('project.current', {});
    expect(current).toEqual(created);
    const event = await received;
    expect(event).toMatchObject({ type: 'project', project: { dir, name: 'Brackets' } });
    ws.close();

    const product = await callJson('products.create', { name: 'PN-1042' });
    expect(product).toMatchObject({ ok: true, value: { name: 'PN-1042', description: '', imageCount: 0 } });
    expect(await callJson('products.list', {})).toMatchObject({ ok: true, value: [{ name: 'PN-1042' }] });
    expect(await callJson('project.create', { dir, name: 'Again' })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('serves the renderer with its CSP, index.html for / and for client-side routes', async () => {
    const index = await fetch(`${server.origin}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-store');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} ws://localhost:${server.port}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-eval');
    expect(await index.text()).toContain('<title>Argus</title>');

    const js = await fetch(`${server.origin}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toBe('console.log("argus");');
    expect((await fetch(`${server.origin}/assets/app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');

    const route = await fetch(`${server.origin}/products/1`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('<title>Argus</title>');
    expect((await fetch(`${server.origin}/assets/missing.js`)).status).toBe(404);
    const head = await fetch(`${server.origin}/assets/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await fetch(`${server.origin}/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses traversal, encoded separators and hidden files with 404', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fsecret.txt', '/%2E%2E/secret.txt', '/assets/../../secret.txt', '/..%5csecret.txt', '/.hidden', '/%00', '/assets%2fapp.js']) {
      const res = await raw(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('outside the renderer');
    }
  });

  it('shows how to build the renderer when it is missing, and the API still works', async () => {
    const bare = await startBrowserServer(host, { port: 0, rendererDir: join(work, 'not-built') });
    try {
      const page = await fetch(`${bare.origin}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('npm run build:renderer');
      expect((await fetch(`${bare.origin}/assets/app.js`)).status).toBe(404);
      const res = await fetch(`${bare.origin}/api/project.current`, { method: 'POST', headers: { Authorization: `Bearer ${bare.token}` } });
      expect(await res.json()).toMatchObject({ ok: true });
      expect(bare.token).not.toBe(server.token);
    } finally {
      await bare.close();
    }
  });

  it('takes a given token and refuses an unusable one', async () => {
    const token = 'a'.repeat(40);
    const given = await startBrowserServer(host, { port: 0, rendererDir, token });
    await given.close();
    expect(given.url.endsWith(`#token=${token}`)).toBe(true);
    await expect(startBrowserServer(host, { token: 'short' })).rejects.toThrow(RangeError);
  });
});

describe('npm start in browser mode', () => {
  const repoRoot = join(import.meta.dirname, '..', '..');

  it('prints the URL, serves the API with the printed token, and closes the project on SIGTERM', async () => {
    const base = mkdtempSync(join(tmpdir(), 'argus-start-'));
    try {
      const dir = join(base, 'project');
      createProject(dir, 'Start').close();
      const child = spawn(process.execPath, ['bin/start.js', '--browser', '--port', '0', '--project', dir, '--no-build'], {
        cwd: repoRoot,
        env: { ...process.env, ARGUS_PROJECT: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          const lines = createInterface({ input: child.stdout });
          lines.on('line', (l) => {
            if (l.startsWith('Argus is running in browser mode: ')) resolve(l);
          });
          void exited.then((code) => reject(new Error(`start.js exited with ${code}: ${stderr}`)));
        });
        const url = new URL(line.slice('Argus is running in browser mode: '.length));
        expect(url.hostname).toBe('127.0.0.1');
        const token = new URLSearchParams(url.hash.slice(1)).get('token') ?? '';
        expect(token).toMatch(/^[0-9a-f]{64}$/);

        const res = await fetch(`${url.origin}/api/project.current`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
        expect(await res.json()).toMatchObject({ ok: true, value: { dir, name: 'Start', readonly: false } });
        expect(() => openProject(dir)).toThrow(expect.objectContaining({ code: 'PROJECT_BUSY' }));
        expect((await fetch(`${url.origin}/`)).status).toBe(200);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      openProject(dir).close();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('refuses a bad option with its usage', async () => {
    const result = spawnSync(process.execPath, ['bin/start.js', '--port', 'eighty'], { cwd: repoRoot, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--port');
    expect(result.stderr).toContain('usage: npm start');
  });
});
