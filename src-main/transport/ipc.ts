/**
 * Electron IPC, main-process side: `argus:call` invocations from our own page go to the station,
 * station events go to the page as `argus:event` messages, `argus:pick-folders` opens the native
 * folder picker. Electron's objects come in as
 * parameters, so this runs (and is tested) without Electron.
 *
 *   const dispose = connectIpc(station, { ipcMain, webContents: win.webContents, isTrustedUrl: isAppUrl, pickFolders });
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { ApiResponse } from '../api/contract.ts';
import type { ApiHost } from '../api/dispatch.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, PICK_CHANNEL } from './channels.ts';

export interface IpcOptions {
  readonly ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  /** The window's contents: the only sender answered, the only receiver of events. */
  readonly webContents: Pick<WebContents, 'id' | 'send' | 'isDestroyed'>;
  /** Whether a frame URL is our own page (see window.ts isAppUrl). */
  readonly isTrustedUrl: (url: string) => boolean;
  /** The native folder picker (Electron's dialog.showOpenDialog): the folders chosen, none when cancelled. */
  readonly pickFolders: () => Promise<string[]>;
}

const UNTRUSTED: ApiResponse<never> = { ok: false, error: { code: 'UNAUTHORIZED', message: 'IPC from a frame other than the Argus page' } };

/** Wires the host to the window; returns the function that unwires it. */
export function connectIpc(host: ApiHost, options: IpcOptions): () => void {
  const { ipcMain, webContents, isTrustedUrl, pickFolders } = options;
  const trusted = (event: IpcMainInvokeEvent): boolean => {
    const frame = event.senderFrame;
    return event.sender.id === webContents.id && frame !== null && frame.parent === null && isTrustedUrl(frame.url);
  };
  ipcMain.handle(CALL_CHANNEL, async (event: IpcMainInvokeEvent, method: unknown, input: unknown): Promise<ApiResponse<unknown>> => {
    if (!trusted(event)) return UNTRUSTED;
    if (typeof method !== 'string') return { ok: false, error: { code: 'UNKNOWN_METHOD', message: 'the method name must be a string' } };
    return host.handle(method, input);
  });
  ipcMain.handle(PICK_CHANNEL, async (event: IpcMainInvokeEvent): Promise<ApiResponse<string[]>> => {
    if (!trusted(event)) return UNTRUSTED;
    try {
      const picked = await pickFolders();
      return { ok: true, value: picked.filter((p) => typeof p === 'string' && p !== '') };
    } catch (err) {
      return { ok: false, error: { code: 'INTERNAL', message: `the folder picker failed: ${err instanceof Error ? err.message : String(err)}` } };
    }
  });
  const unsubscribe = host.subscribe((event) => {
    if (!webContents.isDestroyed()) webContents.send(EVENT_CHANNEL, event);
  });
  let connected = true;
  return () => {
    if (!connected) return;
    connected = false;
    unsubscribe();
    ipcMain.removeHandler(CALL_CHANNEL);
    ipcMain.removeHandler(PICK_CHANNEL);
  };
}
