/**
 * Browser mode: the station's API over a local HTTP + WebSocket server, serving the built renderer.
 *
 *   const server = await startBrowserServer(station, { port: 0 });
 *   console.log(server.url);          // http://127.0.0.1:<port>/#token=<token>
 *   await server.close();             // the station stays open; close it yourself
 *
 * Wire protocol (the renderer's browser client speaks exactly this):
 * - `POST /api/<method>` with `Authorization: Bearer <token>` and a JSON body (empty = {}) answers
 *   200 with the ApiResponse for every call that reached the station, valid or not. A missing or wrong
 *   token answers 401, a body over the limit 413, another HTTP method 405; these carry the same
 *   `{ ok: false, error }` shape.
 * - `GET /events?token=<token>` upgrades to a WebSocket; each message is one JSON StationEvent.
 * - Everything else is the renderer's static files (GET/HEAD), with a strict CSP.
 *
 * Only 127.0.0.1 is bound. A Host header other than 127.0.0.1:<port> or localhost:<port> is refused
 * (DNS rebinding), and so is an Origin header on /api and /events that is not this server's origin.
 * Tokens are 32 random bytes per launch, compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join, resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiErrorCode, ApiResponse } from '../api/contract.ts';
import type { ApiHost } from '../api/dispatch.ts';
import { contentSecurityPolicy } from './csp.ts';
import { INDEX_FILE, RENDERER_NOT_BUILT_PAGE, resolveStaticFile } from './static.ts';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024;
/** A WebSocket client further behind than this is disconnected rather than buffered without end. */
const MAX_WS_BUFFERED_BYTES = 64 * 1024 * 1024;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

export interface BrowserServerOptions {
  /** 0 (the default) lets the system pick a free port. */
  readonly port?: number;
  /** The built renderer; default `dist/renderer` under the working directory. */
  readonly rendererDir?: string;
  /** Default: 32 random bytes as hex, new per launch. */
  readonly token?: string;
  /** Largest accepted request body; default 256 MiB. */
  readonly maxBodyBytes?: number;
}

export interface BrowserServer {
  /** `http://127.0.0.1:<port>/#token=<token>`: what the user opens. */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly token: string;
  readonly port: number;
  /** Stops listening and drops every connection; does not close the host. */
  close(): Promise<void>;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison (of digests, so that lengths leak nothing either). */
function tokenMatches(given: string | null | undefined, expected: Buffer): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(given), expected);
}

function sendJson(res: ServerResponse, status: number, body: ApiResponse<unknown>, extra: Record<string, string> = {}): void {
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch (err) {
    status = 200;
    text = JSON.stringify({ ok: false, error: { code: 'INTERNAL', message: `response not serialisable: ${err instanceof Error ? err.message : String(err)}` } });
  }
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: ApiErrorCode, message: string, extra?: Record<string, string>): void {
  sendJson(res, status, { ok: false, error: { code, message } }, extra);
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  res.end(text);
}

/** The whole body, or 'too-large' once it passes `limit` (the rest is read and dropped, so the client gets its answer). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length']);
    let tooLarge = Number.isFinite(declared) && declared > limit;
    let total = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (tooLarge) return;
      if (total > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(tooLarge ? 'too-large' : Buffer.concat(chunks, total)));
    req.on('error', reject);
  });
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length}\r\n\r\n${reason}`);
}

export async function startBrowserServer(host: ApiHost, options: BrowserServerOptions = {}): Promise<BrowserServer> {
  const token = options.token ?? randomBytes(32).toString('hex');
  if (!TOKEN_PATTERN.test(token)) throw new RangeError('token: 16 to 256 characters of A-Z a-z 0-9 _ -');
  const expected = digest(token);
  const rendererDir = resolve(options.rendererDir ?? join('dist', 'renderer'));
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) throw new RangeError(`port: expected 0..65535, got ${requestedPort}`);

  let port = 0;
  const allowedHosts = (): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];
  const hostAllowed = (req: IncomingMessage): boolean => allowedHosts().includes((req.headers.host ?? '').toLowerCase());
  /** An Origin header, when present, must be this server as the client reached it. */
  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin === undefined || allowedHosts().some((h) => origin === `http://${h}`);
  };
  const csp = (): string => contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]);

  async function handleApi(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (!originAllowed(req)) return sendError(res, 403, 'UNAUTHORIZED', 'cross-origin requests are refused');
    if (req.method !== 'POST') return sendError(res, 405, 'INVALID_REQUEST', 'use POST', { Allow: 'POST' });
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!tokenMatches(given, expected)) {
      req.resume();
      return sendError(res, 401, 'UNAUTHORIZED', 'missing or wrong token', { 'WWW-Authenticate': 'Bearer' });
    }
    const body = await readBody(req, maxBody);
    if (body === 'too-large') return sendError(res, 413, 'INVALID_REQUEST', `request body over ${maxBody} bytes`);
    let method: string;
    try {
      method = decodeURIComponent(pathname.slice('/api/'.length));
    } catch {
      method = pathname.slice('/api/'.length);
    }
    let input: unknown = {};
    if (body.length > 0) {
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return sendError(res, 200, 'INVALID_REQUEST', `body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    sendJson(res, 200, await host.handle(method, input));
  }

  async function handleStatic(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    const headers = {
      'Content-Security-Policy': csp(),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
    };
    const found = await resolveStaticFile(rendererDir, rawPath);
    if (!found) {
      const path = rawPath.split(/[?#]/, 1)[0];
      if ((path === '/' || path === `/${INDEX_FILE}`) && !existsSync(join(rendererDir, INDEX_FILE))) {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : RENDERER_NOT_BUILT_PAGE);
        return;
      }
      return sendText(res, 404, 'not found', headers);
    }
    res.writeHead(200, { ...headers, 'Content-Type': found.contentType, 'Cache-Control': found.index ? 'no-store' : 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(found.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req)) {
      req.resume();
      return sendText(res, 421, 'misdirected request: unexpected Host header');
    }
    const rawPath = req.url ?? '/';
    const pathname = rawPath.split(/[?#]/, 1)[0] ?? '/';
    if (pathname === '/api' || pathname.startsWith('/api/')) return handleApi(req, res, pathname);
    return handleStatic(req, res, rawPath);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, 500, 'INTERNAL', err instanceof Error ? err.message : String(err));
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  wss.on('connection', (ws: WebSocket) => {
    const unsubscribe = host.subscribe((event) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_WS_BUFFERED_BYTES) {
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(event));
    });
    ws.on('close', unsubscribe);
    ws.on('error', () => ws.terminate());
    // the client has nothing to say; anything it sends is ignored
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const rawPath = req.url ?? '/';
    const [pathname, query = ''] = rawPath.split('?', 2);
    if (!hostAllowed(req)) return refuseUpgrade(socket, 421, 'Misdirected Request');
    if (pathname !== '/events') return refuseUpgrade(socket, 404, 'Not Found');
    if (!originAllowed(req)) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!tokenMatches(new URLSearchParams(query).get('token'), expected)) return refuseUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  port = address.port;
  const origin = `http://127.0.0.1:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    token,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolveClose) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
