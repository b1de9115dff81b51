/**
 * What Electron's preload bridge exposes and the IPC channels behind it. Imported by the preload
 * (bundled for a sandboxed renderer), the main process and the renderer's API client: types and
 * string constants only.
 */
import type { ApiResponse, StationEvent } from '../api/contract.ts';

/** ipcRenderer.invoke(CALL_CHANNEL, method, input) -> ApiResponse. */
export const CALL_CHANNEL = 'argus:call';
/** Main -> renderer, one StationEvent per message. */
export const EVENT_CHANNEL = 'argus:event';
/** ipcRenderer.invoke(PICK_CHANNEL) -> ApiResponse<string[]>: the folders picked in the native dialog (none when cancelled). */
export const PICK_CHANNEL = 'argus:pick-folders';

/** `window.argusBridge` in Electron; browser mode speaks HTTP + WebSocket instead. */
export interface ArgusBridge {
  invoke(method: string, input: unknown): Promise<ApiResponse<unknown>>;
  /** Returns the unsubscribe function. */
  onEvent(listener: (event: StationEvent) => void): () => void;
  /** The file-system path of a file or folder dropped onto the page (webUtils.getPathForFile); null for one not on disk. */
  pathForFile(file: File): string | null;
  /** Opens the native folder picker; the folders chosen (empty when cancelled). */
  pickFolders(): Promise<ApiResponse<string[]>>;
}
