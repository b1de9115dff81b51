/**
 * The preload of the Argus window (sandboxed, bundled to CommonJS by scripts/build-electron.ts):
 * exposes exactly `window.argusBridge = { invoke, onEvent }` and nothing else of Electron or Node.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { StationEvent } from '../api/contract.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, type ArgusBridge } from '../transport/channels.ts';

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
};

contextBridge.exposeInMainWorld('argusBridge', bridge);
