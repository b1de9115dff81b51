/**
 * SimpleNet's anomalous-feature noise, σ·N(0, 1) per element of a [rows, D] step (METHODS.md §4.4).
 *
 * One step's values are defined by its Random: a 32-bit seed drawn from it picks the generator of each
 * of NOISE_CHUNKS consecutive chunks (chunkRandom(seed, chunk)), so the chunks can be drawn on separate
 * threads and the values do not depend on how many threads drew them. gaussianNoise draws them all on
 * the calling thread; NoiseSource draws the last chunk on a worker thread meanwhile (the 12.6 M values
 * of a 256-px step take ~0.1-0.2 s of one core, while ONNX Runtime's threads sleep between steps).
 */
import type { Worker } from 'node:worker_threads';
import { Random } from '../../util/random.ts';
import { startWorker } from '../../util/worker-thread.ts';

export const NOISE_CHUNKS = 2;

/** [start, end) of each chunk of `length` values. */
function chunks(length: number): Array<[number, number]> {
  const size = Math.ceil(length / NOISE_CHUNKS);
  return Array.from({ length: NOISE_CHUNKS }, (_, c) => [Math.min(length, c * size), Math.min(length, (c + 1) * size)]);
}

/** The generator of one chunk: a hash of (seed, chunk). */
function chunkRandom(seed: number, chunk: number): Random {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ chunk, 0xc2b2ae35) >>> 0;
  return new Random((h ^ (h >>> 16)) >>> 0);
}

export function drawChunk(out: Float32Array, seed: number, chunk: number, std: number): void {
  chunkRandom(seed, chunk).fillNormal(out, std);
}

/** σ·N(0, 1) values for one step, all on this thread. */
export function gaussianNoise(length: number, std: number, rng: Random): Float32Array {
  const out = new Float32Array(length);
  const seed = rng.nextUint32();
  chunks(length).forEach(([a, b], c) => drawChunk(out.subarray(a, b), seed, c, std));
  return out;
}

export interface ChunkRequest {
  readonly id: number;
  readonly seed: number;
  readonly chunk: number;
  readonly length: number;
  readonly std: number;
}

/** The same values as gaussianNoise, the last chunk drawn on a worker thread. */
export class NoiseSource {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, { resolve: (d: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  async draw(length: number, std: number, rng: Random): Promise<Float32Array> {
    const out = new Float32Array(length);
    const seed = rng.nextUint32();
    const parts = chunks(length);
    const [la, lb] = parts[NOISE_CHUNKS - 1]!;
    const remote = lb > la && !this.failed ? this.request({ id: this.nextId++, seed, chunk: NOISE_CHUNKS - 1, length: lb - la, std }) : undefined;
    parts.forEach(([a, b], c) => {
      if (c < NOISE_CHUNKS - 1 || !remote) drawChunk(out.subarray(a, b), seed, c, std);
    });
    if (remote) {
      try {
        out.set(await remote, la);
      } catch {
        // the worker could not be used: the same values on this thread
        drawChunk(out.subarray(la, lb), seed, NOISE_CHUNKS - 1, std);
      }
    }
    return out;
  }

  private request(r: ChunkRequest): Promise<Float32Array> {
    if (!this.worker) {
      const worker = startWorker(new URL('./noise-worker.ts', import.meta.url));
      worker.on('message', (m: { id: number; data: Float32Array }) => {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.resolve(m.data);
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', () => this.fail(new Error('noise worker exited')));
      this.worker = worker;
    }
    const promise = new Promise<Float32Array>((resolve, reject) => this.waiting.set(r.id, { resolve, reject }));
    this.worker.postMessage(r);
    return promise;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    this.worker = undefined;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failed ??= new Error('noise source closed');
    await w?.terminate();
  }
}
