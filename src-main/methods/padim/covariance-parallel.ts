/**
 * PaDiM's per-position Cholesky work split across worker threads (it is plain JS, so one thread
 * would leave the other cores idle). Inputs and outputs live in SharedArrayBuffers; the result is
 * the same as gaussiansFromMoments, which is also the fallback when workers cannot start.
 */
import { availableParallelism } from 'node:os';
import { startWorker } from '../../util/worker-thread.ts';
import { gaussiansFromMoments, pooledFallback, type GaussianStats, type Moments, type PositionRange } from './covariance.ts';

/** A Float64Array whose memory worker threads can share. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

function runSlice(range: PositionRange): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(new URL('./covariance-worker.ts', import.meta.url), { workerData: range });
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`covariance worker exited with code ${code}`))));
  });
}

/** The Gaussians, and how many threads computed them (1 when it ran in this thread). */
export async function gaussiansFromMomentsParallel(m: Moments, epsilon: number): Promise<{ stats: GaussianStats; threads: number }> {
  const { sum, cross, shift, counts, d } = m;
  const P = counts.length;
  const threads = Math.min(availableParallelism(), 8, P);
  const shared = sum.buffer instanceof SharedArrayBuffer && cross.buffer instanceof SharedArrayBuffer;
  const inThisThread = () => ({ stats: gaussiansFromMoments(m, epsilon), threads: 1 });
  if (threads < 2 || !shared) return inThisThread();
  let fallback;
  try {
    fallback = pooledFallback(m);
  } catch {
    return inThisThread(); // the same error, thrown where the caller expects it
  }
  const sharedShift = new Float32Array(new SharedArrayBuffer(shift.byteLength));
  sharedShift.set(shift);
  const mean = new Float32Array(new SharedArrayBuffer(P * d * 4));
  const whitening = new Float32Array(new SharedArrayBuffer(P * d * d * 4));
  try {
    const per = Math.ceil(P / threads);
    await Promise.all(
      Array.from({ length: threads }, (_, t) =>
        runSlice({ sum, cross, shift: sharedShift, counts, d, epsilon, fallback, from: t * per, to: Math.min(P, (t + 1) * per), mean, whitening }),
      ),
    );
  } catch {
    return inThisThread();
  }
  // ONNX Runtime is handed ordinary arrays
  return { stats: { mean: Float32Array.from(mean), whitening: Float32Array.from(whitening) }, threads };
}
