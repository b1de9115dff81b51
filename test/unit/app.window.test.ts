/**
 * The Electron shell without Electron: the window's security settings, the IPC wiring with stand-in
 * ipcMain/webContents objects, and the preload bundle run against a stand-in `electron` (the whole
 * compiled main side: test/integration/desktop-build.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IpcMainInvokeEvent } from 'electron';
import type { ApiResponse, StationEvent } from '../../src-main/api/contract.ts';
import type { ApiHost } from '../../src-main/api/dispatch.ts';
import { APP_URL, CSP, isAppUrl, webPreferences, windowOptions } from '../../src-main/app/window.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, PICK_CHANNEL, type ArgusBridge } from '../../src-main/transport/channels.ts';
import { connectIpc, type IpcOptions } from '../../src-main/transport/ipc.ts';
import { buildElectron } from '../../scripts/build-electron.ts';

describe('window settings', () => {
  it('isolates and sandboxes the renderer without Node', () => {
    expect(webPreferences.contextIsolation).toBe(true);
    expect(webPreferences.sandbox).toBe(true);
    expect(webPreferences.nodeIntegration).toBe(false);
    expect(webPreferences.nodeIntegrationInWorker).toBe(false);
    expect(webPreferences.nodeIntegrationInSubFrames).toBe(false);
    expect(webPreferences.webSecurity).toBe(true);
    expect(webPreferences.webviewTag).toBe(false);
    expect(Object.isFrozen(webPreferences)).toBe(true);
    const options = windowOptions('/app/dist/electron/preload.cjs');
    expect(options.webPreferences).toEqual({ ...webPreferences, preload: '/app/dist/electron/preload.cjs' });
  });

  it('has a CSP with script-src self and no eval or inline script', () => {
    const directives = new Map(CSP.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(CSP).not.toContain('unsafe-eval');
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
  });

  it('recognises only its own page', () => {
    expect(isAppUrl(APP_URL)).toBe(true);
    expect(isAppUrl('argus://app/index.html#/products/1')).toBe(true);
    for (const url of ['https://app/index.html', 'argus://evil/index.html', 'file:///app/index.html', 'argus://user:pw@app/', 'not a url', '']) {
      expect(isAppUrl(url), url).toBe(false);
    }
  });
});

class FakeHost implements ApiHost {
  readonly calls: Array<[string, unknown]> = [];
  readonly listeners = new Set<(event: StationEvent) => void>();
  async handle(method: string, input: unknown): Promise<ApiResponse<unknown>> {
    this.calls.push([method, input]);
    return { ok: true, value: { method } };
  }
  subscribe(listener: (event: StationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function fakeElectronMain() {
  const handlers = new Map<string, (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown>();
  const sent: Array<[string, unknown]> = [];
  let destroyed = false;
  const ipcMain = {
    handle: (channel: string, fn: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown) => void handlers.set(channel, fn),
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
  const webContents = { id: 7, send: (channel: string, payload: unknown) => void sent.push([channel, payload]), isDestroyed: () => destroyed };
  const invoke = (sender: unknown, frame: { url: string; parent: unknown } | null, ...args: unknown[]) =>
    handlers.get(CALL_CHANNEL)!({ sender, senderFrame: frame } as unknown as IpcMainInvokeEvent, ...args);
  return { handlers, sent, ipcMain, webContents, invoke, destroy: () => (destroyed = true) };
}

describe('IPC wiring', () => {
  it('answers our own page, refuses other senders and frames, forwards events until disconnected', async () => {
    const host = new FakeHost();
    const e = fakeElectronMain();
    const disconnect = connectIpc(host, { ipcMain: e.ipcMain, webContents: e.webContents, isTrustedUrl: isAppUrl, pickFolders: async () => [] } as unknown as IpcOptions);
    const top = { url: APP_URL, parent: null };

    expect(await e.invoke(e.webContents, top, 'project.current', {})).toEqual({ ok: true, value: { method: 'project.current' } });
    expect(host.calls).toEqual([['project.current', {}]]);
    const refusals = [
      await e.invoke({ id: 8 }, top, 'project.current', {}),
      await e.invoke(e.webContents, { url: 'https://evil.example/', parent: null }, 'project.current', {}),
      await e.invoke(e.webContents, { url: APP_URL, parent: top }, 'project.current', {}),
      await e.invoke(e.webContents, null, 'project.current', {}),
    ];
    for (const r of refusals) expect(r).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await e.invoke(e.webContents, top, 42, {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
    expect(host.calls).toHaveLength(1);

    const event: StationEvent = { type: 'project', project: null };
    for (const l of host.listeners) l(event);
    expect(e.sent).toEqual([[EVENT_CHANNEL, event]]);
    e.destroy();
    for (const l of host.listeners) l(event);
    expect(e.sent).toHaveLength(1);

    disconnect();
    disconnect();
    expect(host.listeners.size).toBe(0);
    expect(e.handlers.has(CALL_CHANNEL)).toBe(false);
    expect(e.handlers.has(PICK_CHANNEL)).toBe(false);
  });

  it('opens the native folder picker for our own page only, and says so when it fails', async () => {
    const e = fakeElectronMain();
    let answer: () => Promise<string[]> = async () => ['/data/line3', ''];
    connectIpc(new FakeHost(), { ipcMain: e.ipcMain, webContents: e.webContents, isTrustedUrl: isAppUrl, pickFolders: () => answer() } as unknown as IpcOptions);
    const pick = (sender: unknown, frame: { url: string; parent: unknown }) => e.handlers.get(PICK_CHANNEL)!({ sender, senderFrame: frame } as unknown as IpcMainInvokeEvent);
    const top = { url: APP_URL, parent: null };
    expect(await pick(e.webContents, top)).toEqual({ ok: true, value: ['/data/line3'] });
    expect(await pick(e.webContents, { url: 'https://evil.example/', parent: null })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    answer = async () => {
      throw new Error('no display');
    };
    expect(await pick(e.webContents, top)).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: expect.stringContaining('no display') } });
  });
});

describe('the preload bundle', () => {
  const out = mkdtempSync(join(tmpdir(), 'argus-electron-'));
  beforeAll(() => buildElectron({ outDir: out }));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('preload exposes exactly argusBridge { invoke, onEvent, pathForFile, pickFolders } over the argus channels', async () => {
    const code = readFileSync(join(out, 'preload.cjs'), 'utf8');
    const exposed = new Map<string, unknown>();
    const invoked: unknown[][] = [];
    const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => void exposed.set(key, api) },
      webUtils: { getPathForFile: (file: { path?: string }) => file.path ?? '' },
      ipcRenderer: {
        invoke: async (...args: unknown[]) => {
          invoked.push(args);
          return { ok: true, value: null };
        },
        on: (channel: string, fn: (...args: unknown[]) => void) => void (listeners.get(channel) ?? listeners.set(channel, new Set()).get(channel)!).add(fn),
        removeListener: (channel: string, fn: (...args: unknown[]) => void) => void listeners.get(channel)?.delete(fn),
      },
    };
    const required: string[] = [];
    const require = (name: string) => {
      required.push(name);
      if (name !== 'electron') throw new Error(`sandboxed preload cannot require ${name}`);
      return electron;
    };
    runInNewContext(code, { require, module: { exports: {} }, exports: {} });
    expect(required).toEqual(['electron']);
    expect([...exposed.keys()]).toEqual(['argusBridge']);
    const bridge = exposed.get('argusBridge') as ArgusBridge;
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'onEvent', 'pathForFile', 'pickFolders']);
    expect(bridge.pathForFile({ path: '/data/a.png' } as unknown as File)).toBe('/data/a.png');
    expect(bridge.pathForFile({} as unknown as File)).toBeNull();
    expect(() => bridge.pathForFile(null as unknown as File)).toThrow(/expects a File/);
    await bridge.pickFolders();
    expect(invoked).toEqual([[PICK_CHANNEL]]);
    invoked.length = 0;

    expect(await bridge.invoke('project.current', {})).toEqual({ ok: true, value: null });
    expect(invoked).toEqual([[CALL_CHANNEL, 'project.current', {}]]);

    const seen: unknown[] = [];
    const off = bridge.onEvent((e) => seen.push(e));
    const event: StationEvent = { type: 'project', project: null };
    for (const fn of listeners.get(EVENT_CHANNEL) ?? []) fn({ sender: 'ipc internals' }, event);
    expect(seen).toEqual([event]);
    off();
    expect(listeners.get(EVENT_CHANNEL)?.size).toBe(0);
  });
});
