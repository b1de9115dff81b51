import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { f32, intraOpThreads, openSession, setIntraOpThreads, setSessionLogger } from '../../src-main/engine/session.ts';
import { backbonePath } from '../../src-main/features/backbones.ts';

const require = createRequire(import.meta.url);
const cudaLibrary = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
const model = () => backbonePath('mobilenet_v2_features');

describe('execution provider selection', () => {
  const saved = process.env['ARGUS_PROVIDER'];
  afterEach(() => {
    if (saved === undefined) delete process.env['ARGUS_PROVIDER'];
    else process.env['ARGUS_PROVIDER'] = saved;
  });

  it.skipIf(existsSync(cudaLibrary))('falls back to the CPU where the CUDA provider is not installed, says why, and runs', async () => {
    const logged: string[] = [];
    setSessionLogger((m) => logged.push(m));
    const session = await openSession(model(), 'auto');
    expect(session.info.provider).toBe('cpu');
    expect(session.info.fallbackReason).toMatch(/libonnxruntime_providers_cuda\.so is not installed/);
    // the reason is logged once per process, not once per session
    expect(logged.length).toBeLessThanOrEqual(1);
    const out = await session.run({ image: f32(new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32]) }, ['feat_s16_exp']);
    expect(out['feat_s16_exp']!.dims).toEqual([1, 576, 2, 2]);
    await session.release();
  });

  it.skipIf(existsSync(cudaLibrary))('refuses a session that asks for CUDA where it cannot run, naming the reason', async () => {
    await expect(openSession(model(), 'cuda')).rejects.toThrow(/CUDA execution provider requested but unavailable: .*providers_cuda/);
  });

  it('runs on the CPU when asked, by argument or by ARGUS_PROVIDER', async () => {
    const asked = await openSession(model(), 'cpu');
    expect(asked.info).toEqual({ provider: 'cpu', fallbackReason: 'CPU requested' });
    process.env['ARGUS_PROVIDER'] = 'cpu';
    const fromEnv = await openSession(model());
    expect(fromEnv.info).toEqual({ provider: 'cpu', fallbackReason: 'CPU requested' });
    await Promise.all([asked.release(), fromEnv.release()]);
  });

  it("refuses a worker's share of the CPUs that is no thread count, keeping the threads it had", () => {
    const before = intraOpThreads();
    expect(() => setIntraOpThreads(0)).toThrow(/positive integer/);
    expect(() => setIntraOpThreads(1.5)).toThrow(/positive integer/);
    expect(intraOpThreads()).toBe(before);
  });
});
