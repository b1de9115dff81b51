/**
 * Electron's main process (bundled to dist/electron/main.cjs by scripts/build-electron.ts; `npm start`
 * runs it when the Electron binary is present). A thin shell: one window on `argus://app/`, the
 * station behind IPC, nothing else.
 *
 * The station and everything under it (store, engine, services) is its own compiled bundle beside this
 * one (station.cjs, with the worker-thread bundles and the run-time files; scripts/build-electron.ts),
 * loaded with a plain require: the desktop app runs no TypeScript and needs neither tsx nor src-main.
 *
 * Opens the project named by `--project <dir>` or ARGUS_PROJECT at launch.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, protocol, session, type WebContents } from 'electron';
import type { Station } from '../services/station.ts';
import { connectIpc } from '../transport/ipc.ts';
import { INDEX_FILE, RENDERER_NOT_BUILT_PAGE, resolveStaticFile } from '../transport/static.ts';
import { APP_HOST, APP_SCHEME, APP_URL, CSP, isAppUrl, windowOptions } from './window.ts';

type StationModule = typeof import('../services/station.ts');

/** This bundle's folder (dist/electron): the bundle is CommonJS, so __dirname is defined there. */
const BUNDLE_DIR = __dirname;

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } },
]);
app.enableSandbox();

function projectArgument(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--project') return argv[i + 1];
    if (arg.startsWith('--project=')) return arg.slice('--project='.length);
  }
  return process.env.ARGUS_PROJECT || undefined;
}

/** The compiled station beside this bundle: the build leaves this require to run time. */
function loadStation(): Station {
  const { Station: StationClass } = require('./station.cjs') as StationModule;
  return new StationClass();
}

function serveRenderer(rendererDir: string): void {
  const headers = (contentType: string, noStore: boolean): Record<string, string> => ({
    'Content-Type': contentType,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': noStore ? 'no-store' : 'no-cache',
  });
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST || (request.method !== 'GET' && request.method !== 'HEAD')) return new Response('not found', { status: 404 });
    const found = await resolveStaticFile(rendererDir, url.pathname);
    if (!found) {
      if (url.pathname === '/' || url.pathname === `/${INDEX_FILE}`) return new Response(RENDERER_NOT_BUILT_PAGE, { headers: headers('text/html; charset=utf-8', true) });
      return new Response('not found', { status: 404, headers: headers('text/plain; charset=utf-8', true) });
    }
    return new Response(await readFile(found.file), { headers: headers(found.contentType, found.index) });
  });
}

function lockDown(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('web-contents-created', (_event, contents) => lockDown(contents));

  await app.whenReady();
  const appRoot = app.getAppPath();
  const rendererDir = process.env.ARGUS_RENDERER_DIR || join(appRoot, 'dist', 'renderer');
  serveRenderer(rendererDir);

  const ses = session.defaultSession;
  ses.webRequest.onHeadersReceived((details, callback) => {
    const responseHeaders = Object.fromEntries(
      Object.entries(details.responseHeaders ?? {}).filter(([name]) => name.toLowerCase() !== 'content-security-policy'),
    );
    callback({ responseHeaders: { ...responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);

  const station = loadStation();
  const project = projectArgument(process.argv);
  if (project) {
    const opened = await station.handle('project.open', { dir: project });
    if (!opened.ok) dialog.showErrorBox('Argus', `Could not open the project in ${project}:\n${opened.error.message}`);
  }

  const win = new BrowserWindow(windowOptions(join(BUNDLE_DIR, 'preload.cjs')));
  const pickFolders = async (): Promise<string[]> => {
    const picked = await dialog.showOpenDialog(win, { title: 'Import folders', properties: ['openDirectory', 'multiSelections'] });
    return picked.canceled ? [] : picked.filePaths;
  };
  const disconnect = connectIpc(station, { ipcMain, webContents: win.webContents, isTrustedUrl: isAppUrl, pickFolders });
  win.once('ready-to-show', () => win.show());
  win.on('closed', disconnect);
  app.on('second-instance', () => {
    if (win.isDestroyed()) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  // close the project (its lock, its workers) before the process goes
  let closed = false;
  let closing = false;
  app.on('will-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    if (closing) return;
    closing = true;
    disconnect();
    station
      .close()
      .catch((err: unknown) => console.error('argus: closing the station failed:', err))
      .finally(() => {
        closed = true;
        app.quit();
      });
  });
  app.on('window-all-closed', () => app.quit());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => app.quit());

  await win.loadURL(APP_URL);
}

main().catch((err: unknown) => {
  console.error('argus:', err);
  dialog.showErrorBox('Argus', err instanceof Error ? (err.stack ?? err.message) : String(err));
  app.exit(1);
});
