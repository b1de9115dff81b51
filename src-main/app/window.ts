/**
 * The Electron window's security settings, as plain values (no Electron at run time here, so tests
 * check them without the binary). The renderer is served from `argus://app/` (a privileged custom
 * scheme, see main.ts) and talks to the station only through the preload bridge.
 */
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { contentSecurityPolicy } from '../transport/csp.ts';

export const APP_SCHEME = 'argus';
export const APP_HOST = 'app';
/** What the window loads. */
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** The renderer's CSP in Electron: IPC needs no `connect-src` beyond 'self'. */
export const CSP = contentSecurityPolicy();

/** No Node in the page, an isolated and sandboxed preload, web security on. */
export const webPreferences = Object.freeze({
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  experimentalFeatures: false,
  navigateOnDragDrop: false,
  safeDialogs: true,
  spellcheck: false,
} as const satisfies WebPreferences);

export function windowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    title: 'Argus',
    show: false,
    backgroundColor: '#1e1f22',
    webPreferences: { ...webPreferences, preload },
  };
}

/** True for URLs of our own page (the only sender IPC answers, the only place navigation may go). */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}
