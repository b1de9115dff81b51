/**
 * The official-method side of the parity benches (pfm-parity.ts, cflow-parity.ts): runs a PyTorch script
 * in its `--features DIR --out DIR` mode and scores the maps it wrote with the project's own metric code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetImage } from '../src-main/datasets/mvtec.ts';
import { PROJECT_ROOT } from '../src-main/features/backbones.ts';
import type { ImageBatch, InputSpec, Prediction } from '../src-main/methods/method.ts';
import { testModel, type TestResult } from '../src-main/services/evaluation.ts';

/**
 * Runs bench/<script> with `--features dir --out dir` and `args`; it writes dir/maps.f32 (float32
 * [test images, height, width], in the loader's order) and prints a JSON line with trainSeconds.
 * Needs a Python with torch (ARGUS_TORCH_PYTHON, default python3).
 */
export async function officialMaps(script: string, dir: string, args: readonly string[], test: readonly DatasetImage[], input: InputSpec): Promise<{ result: TestResult; trainSeconds: number }> {
  const python = process.env['ARGUS_TORCH_PYTHON'] ?? 'python3';
  const r = spawnSync(python, [join(PROJECT_ROOT, 'bench', script), '--features', dir, '--out', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.error || r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.error?.message ?? ''}; set ARGUS_TORCH_PYTHON to a Python with torch`);
  const { trainSeconds } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { trainSeconds: number };
  const raw = readFileSync(join(dir, 'maps.f32'));
  const maps = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const plane = input.height * input.width;
  let next = 0;
  // the official maps, handed out in the loader's order (the one they were extracted in)
  const reference = {
    predict: async (batch: ImageBatch): Promise<Prediction[]> => Array.from({ length: batch.n }, () => {
      const map = maps.slice(next * plane, (next + 1) * plane);
      next++;
      let score = -Infinity;
      for (const v of map) if (v > score) score = v;
      return { score, map };
    }),
  };
  return { result: await testModel(reference, test, input, { batchSize: 8, issues: [] }), trainSeconds };
}
