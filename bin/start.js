#!/usr/bin/env node
// `npm start`: the station with its user interface. Electron when its binary is installed (it runs the
// compiled main side, built here first by scripts/build-electron.ts, as the installed app does),
// otherwise browser mode (a local server on 127.0.0.1; open the printed URL), whose TypeScript runs
// through tsx's loader, as in bin/argus.js.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Browser mode's default port (see --port). */
const STABLE_PORT = 47800;
const USAGE = `usage: npm start -- [--project <dir>] [--port <n>] [--browser] [--no-build]

  --project <dir>  open this project at launch (also ARGUS_PROJECT)
  --port <n>       browser mode's port on 127.0.0.1 (default: ${STABLE_PORT}, or a free one when it is
                   busy; a stable port keeps the browser's remembered reviewer name and recent
                   projects across restarts, since the browser keeps them per address)
  --browser        browser mode even when Electron is installed
  --no-build       do not build the renderer when dist/renderer is missing`;

function fail(message) {
  console.error(`argus: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { project: process.env.ARGUS_PROJECT || undefined, port: undefined, browser: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const next = () => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--project':
        options.project = next();
        break;
      case '--port': {
        const raw = next();
        const port = Number(raw);
        if (!/^\d+$/.test(raw) || port > 65535) fail(`--port: expected 0..65535, got ${raw}`);
        options.port = port;
        break;
      }
      case '--browser':
        options.browser = true;
        break;
      case '--no-build':
        options.build = false;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${arg}`);
    }
  }
  if (options.project !== undefined) options.project = resolve(options.project);
  return options;
}

/**
 * The Electron executable, or null when it is not installed. Reads what electron's index.js reads,
 * without requiring it: that module starts a download when the binary is missing, and we are offline.
 */
function electronBinary() {
  try {
    const pkgDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
    const pathFile = join(pkgDir, 'path.txt');
    if (!existsSync(pathFile)) return null;
    const relative = readFileSync(pathFile, 'utf8').trim();
    const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
    const binary = override ? join(override, relative || 'electron') : join(pkgDir, 'dist', relative);
    return relative && existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

/** Builds the renderer with the build:renderer script when its index.html is missing; warns and goes on otherwise. */
function ensureRenderer(rendererDir, build) {
  if (existsSync(join(rendererDir, 'index.html'))) return;
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
  if (!build || rendererDir !== join(ROOT, 'dist', 'renderer') || !scripts['build:renderer']) {
    console.error(`argus: warning: no renderer in ${rendererDir}; the API works, the page says how to build it (npm run build:renderer)`);
    return;
  }
  console.error('argus: building the renderer (npm run build:renderer) ...');
  const npmCli = process.env.npm_execpath;
  const [command, args] = npmCli && npmCli.endsWith('.js') ? [process.execPath, [npmCli, 'run', 'build:renderer']] : ['npm', ['run', 'build:renderer']];
  // the build's output goes to stderr: stdout carries only the URL line
  const result = spawnSync(command, args, { cwd: ROOT, stdio: ['ignore', 2, 2], shell: process.platform === 'win32' && command === 'npm' });
  if (result.status !== 0) console.error('argus: warning: the renderer build failed; the API works, the page says how to build it');
}

async function registerTsx() {
  const { register } = await import('tsx/esm/api');
  register();
}

async function runElectron(binary, options) {
  await registerTsx();
  const { buildElectron } = await import('../scripts/build-electron.ts');
  await buildElectron({ root: ROOT });
  if (options.port) console.error('argus: --port applies to browser mode only');
  const env = { ...process.env };
  if (options.project) env.ARGUS_PROJECT = options.project;
  else delete env.ARGUS_PROJECT;
  const child = spawn(binary, [ROOT], { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    console.error(`argus: could not start Electron (${err.message}); try npm start -- --browser`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function runBrowser(options, rendererDir) {
  await registerTsx();
  const { Station } = await import('../src-main/services/station.ts');
  const { startBrowserServer } = await import('../src-main/transport/http-server.ts');
  const station = new Station();
  let server;
  try {
    if (options.project) {
      const opened = await station.handle('project.open', { dir: options.project });
      if (!opened.ok) throw new Error(`cannot open the project in ${options.project}: ${opened.error.message}`);
    }
    server = await startBrowserServer(station, { port: options.port ?? STABLE_PORT, rendererDir }).catch((err) => {
      if (options.port !== undefined || err?.code !== 'EADDRINUSE') throw err;
      console.error(`argus: port ${STABLE_PORT} is in use; using a free one (the address differs, so the browser starts without the reviewer name and recent projects it remembered)`);
      return startBrowserServer(station, { port: 0, rendererDir });
    });
  } catch (err) {
    console.error(`argus: ${err instanceof Error ? err.message : String(err)}`);
    await station.close();
    process.exit(1);
  }
  console.log(`Argus is running in browser mode: ${server.url}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      console.error(`argus: ${signal} again, exiting without closing the project`);
      process.exit(1);
    }
    stopping = true;
    let code = 0;
    try {
      await server.close();
      await station.close(); // closes the project: jobs stop, the lock is released
    } catch (err) {
      console.error('argus: closing the station failed:', err);
      code = 1;
    }
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stop(signal));
}

const options = parseArgs(process.argv.slice(2));
const rendererDir = resolve(process.env.ARGUS_RENDERER_DIR || join(ROOT, 'dist', 'renderer'));
ensureRenderer(rendererDir, options.build);
const binary = options.browser ? null : electronBinary();
if (binary) await runElectron(binary, options);
else await runBrowser(options, rendererDir);
