/**
 * The preload of the Argus window (sandboxed, bundled to CommonJS by scripts/build-electron.ts):
 * exposes exactly `window.argusBridge = { invoke, onEvent, pathForFile, pickFolders }` and nothing
 * else of Electron or Node.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { StationEvent } from '../api/contract.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, PICK_CHANNEL, type ArgusBridge } from '../transport/channels.ts';

const bridge: ArgusBridge = {
  invoke: (method, input) => ipcRenderer.invoke(CALL_CHANNEL, String(method), input),
  onEvent(listener) {
    if (typeof listener !== 'function') throw new TypeError('onEvent expects a function');
    // the IPC event object (with its sender) never reaches the page
    const relay = (_event: IpcRendererEvent, stationEvent: StationEvent): void => listener(stationEvent);
    ipcRenderer.on(EVENT_CHANNEL, relay);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, relay);
    };
  },
  pathForFile(file) {
    if (typeof file !== 'object' || file === null) throw new TypeError('pathForFile expects a File dropped onto the page');
    const path = webUtils.getPathForFile(file);
    return typeof path === 'string' && path !== '' ? path : null;
  },
  pickFolders: () => ipcRenderer.invoke(PICK_CHANNEL),
};

contextBridge.exposeInMainWorld('argusBridge', bridge);
