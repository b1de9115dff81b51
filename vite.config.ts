/**
 * Builds the renderer (src-renderer) into dist/renderer for Electron (file://, hence base './') and
 * for browser mode (served by src-main/transport). The page's CSP is script-src 'self': Vite emits
 * only external module scripts, and nothing here may add inline scripts or eval.
 *
 *   npm run build:renderer            # or: npx vite build
 *   ARGUS_SERVER=http://127.0.0.1:PORT npx vite   # dev server proxying /api and /events to a station
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const repo = import.meta.dirname;
const station = process.env['ARGUS_SERVER'];

export default defineConfig({
  root: resolve(repo, 'src-renderer'),
  base: './',
  plugins: [svelte()],
  build: {
    outDir: resolve(repo, 'dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill is a separate module anyway, but Chromium and Electron need none.
    modulePreload: { polyfill: false },
    sourcemap: true,
    reportCompressedSize: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // zod's sources carry comments Rollup cannot place; harmless, and not ours to fix.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules')) return;
        warn(warning);
      },
    },
  },
  server: {
    fs: { allow: [repo] },
    ...(station ? { proxy: { '/api': station, '/events': { target: station, ws: true } } } : {}),
  },
});
