import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // ONNX Runtime already uses both cores; parallel files only fight over them.
    fileParallelism: false,
    // Files share one process: each isolated file paid ~0.4 s to start (half the unit tests' time) and
    // reloaded ONNX Runtime and the backbones. Tests restore the environment variables they change; module state
    // they share is caches and the silenced provider log.
    isolate: false,
  },
});
