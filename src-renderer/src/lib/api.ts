/**
 * The renderer's client for the API contract, over whichever transport carries it:
 *
 * - Electron: the preload's `window.argusBridge` (invoke + onEvent);
 * - browser mode: `POST /api/<method>` with the session token as a bearer token, and a WebSocket on
 *   `/events?token=...` for station events (reconnecting with back-off).
 *
 * Every call resolves to the method's value or rejects with an ApiError (code + message), including
 * transport failures, so screens have exactly one kind of error to show.
 *
 *   const project = await api.call('project.open', { dir: '/data/brackets' });
 */
import { ApiError, type ApiInput, type ApiMethod, type ApiOutput, type ApiResponse, type ArgusApi, type StationEvent } from './contract.ts';

export interface ArgusBridge {
  invoke(method: string, input: unknown): Promise<ApiResponse<unknown>>;
  onEvent(listener: (event: StationEvent) => void): () => void;
  pathForFile(file: File): string | null;
  pickFolders(): Promise<ApiResponse<string[]>>;
}

declare global {
  interface Window {
    argusBridge?: ArgusBridge;
  }
}

/** Whether live events reach the page: 'open', or 'connecting' while (re)connecting. */
export type Connection = 'open' | 'connecting';

export interface StationClient extends ArgusApi {
  /** Calls `listener` now and whenever the event connection opens or drops; returns the unsubscribe. */
  onConnection(listener: (state: Connection) => void): () => void;
}

function unwrap<T>(response: ApiResponse<unknown>, method: string): T {
  if (response && typeof response === 'object' && 'ok' in response) {
    if (response.ok) return response.value as T;
    const { code, message } = response.error;
    throw new ApiError(code, message);
  }
  throw new ApiError('INTERNAL', `${method}: the station answered something that is not an API response`);
}

/** Electron: the preload carries calls and events; they cannot drop, so the connection is always open. */
class BridgeClient implements StationClient {
  readonly #bridge: ArgusBridge;
  constructor(bridge: ArgusBridge) {
    this.#bridge = bridge;
  }
  async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
    let response: ApiResponse<unknown>;
    try {
      response = await this.#bridge.invoke(method, input);
    } catch (err) {
      throw new ApiError('INTERNAL', `${method}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return unwrap<ApiOutput<M>>(response, method);
  }
  onEvent(listener: (event: StationEvent) => void): () => void {
    return this.#bridge.onEvent(listener);
  }
  onConnection(listener: (state: Connection) => void): () => void {
    listener('open');
    return () => {};
  }
}

const TOKEN_KEY = 'argus.token';

/** Reads `#token=...` from the address (then removes it from the bar), else the session's copy. */
export function takeToken(): string | null {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const fromUrl = hash.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const HTTP_ERRORS: Record<number, [ApiError['code'], string]> = {
  401: ['UNAUTHORIZED', 'the station refused this page\'s token: open the station again from the address it printed at start'],
  413: ['BAD_INPUT', 'the request is too large for the station'],
};

/** Browser mode: HTTP for calls, one WebSocket for events. */
class HttpClient implements StationClient {
  readonly #token: string;
  readonly #listeners = new Set<(event: StationEvent) => void>();
  readonly #connection = new Set<(state: Connection) => void>();
  #socket: WebSocket | null = null;
  #state: Connection = 'connecting';
  #retryMs = 500;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(token: string) {
    this.#token = token;
  }

  async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
    let res: Response;
    try {
      res = await fetch(`/api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.#token}` },
        body: JSON.stringify(input ?? {}),
      });
    } catch (err) {
      throw new ApiError('INTERNAL', `cannot reach the station (${err instanceof Error ? err.message : String(err)}); is it still running?`);
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    const known = HTTP_ERRORS[res.status];
    if (res.status === 401 && known) throw new ApiError(known[0], known[1]);
    if (body && typeof body === 'object' && 'ok' in body) return unwrap<ApiOutput<M>>(body as ApiResponse<unknown>, method);
    if (known) throw new ApiError(known[0], known[1]);
    throw new ApiError('INTERNAL', `${method}: the station answered HTTP ${res.status} without an API response`);
  }

  onEvent(listener: (event: StationEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#connect();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#disconnect();
    };
  }

  onConnection(listener: (state: Connection) => void): () => void {
    this.#connection.add(listener);
    listener(this.#state);
    return () => this.#connection.delete(listener);
  }

  #setState(state: Connection): void {
    if (state === this.#state) return;
    this.#state = state;
    for (const l of this.#connection) l(state);
  }

  #connect(): void {
    if (this.#socket || this.#timer) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/events?token=${encodeURIComponent(this.#token)}`);
    this.#socket = socket;
    socket.onopen = () => {
      this.#retryMs = 500;
      this.#setState('open');
    };
    socket.onmessage = (message) => {
      let event: StationEvent;
      try {
        event = JSON.parse(String(message.data)) as StationEvent;
      } catch {
        return;
      }
      for (const l of this.#listeners) l(event);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#setState('connecting');
      if (this.#listeners.size === 0) return;
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#connect();
      }, this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
    };
  }

  #disconnect(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const socket = this.#socket;
    this.#socket = null;
    socket?.close();
  }
}

/** Refuses every call with a clear message (browser mode opened without a token). */
class NoTokenClient implements StationClient {
  call<M extends ApiMethod>(): Promise<ApiOutput<M>> {
    return Promise.reject(new ApiError('UNAUTHORIZED', 'this page has no station token: open it from the address the station printed at start (…/#token=…)'));
  }
  onEvent(): () => void {
    return () => {};
  }
  onConnection(listener: (state: Connection) => void): () => void {
    listener('connecting');
    return () => {};
  }
}

function createClient(): StationClient {
  if (window.argusBridge) return new BridgeClient(window.argusBridge);
  // A restarted station prints a new address; opened in a tab already on the station (same port) it
  // changes only the fragment, which loads no page: load it again so that the new token is taken.
  window.addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.replace(/^#/, '')).has('token')) location.reload();
  });
  const token = takeToken();
  return token ? new HttpClient(token) : new NoTokenClient();
}

export const api: StationClient = createClient();

/** Electron only: the file-system paths of files and folders dropped onto the page, and the native folder picker. */
export interface NativeFiles {
  pathForFile(file: File): string | null;
  pickFolders(): Promise<string[]>;
}

function nativeFilesOf(bridge: ArgusBridge | undefined): NativeFiles | null {
  if (!bridge || typeof bridge.pathForFile !== 'function' || typeof bridge.pickFolders !== 'function') return null;
  return {
    pathForFile: (file) => bridge.pathForFile(file),
    async pickFolders() {
      return unwrap<string[]>(await bridge.pickFolders(), 'the folder picker');
    },
  };
}

/** Null in browser mode: dropped files reach the station as bytes (images.upload) there. */
export const nativeFiles: NativeFiles | null = nativeFilesOf(window.argusBridge);
