/**
 * Approximate greedy coreset (METHODS.md §5.3), exact to the official algorithm's definition:
 * start distances are the mean Euclidean distance to `starts` random points; then `count` times
 * the point farthest from the coreset joins it (lowest index on ties, as torch.argmax) and every
 * distance becomes min(old, distance to the new member).
 *
 * The plain loop costs n·count distances one at a time. Here the same result comes from:
 * - lazy upper bounds: a point's stored distance covers the members it has been compared with;
 *   points sit in a max-heap by that bound; only the top point is brought up to date, and only until
 *   its bound falls below the runner-up's; up to date and still on top, it is the true farthest point;
 * - block refreshes: every `blockSize` selections, all points are compared with the block's new members
 *   in one ONNX Runtime matrix product (n × block), so lazy catch-up never exceeds one block.
 */
import { GraphBuilder, int, ints } from '../../engine/onnx/graph.ts';
import { f32, pooledSession } from '../../engine/session.ts';
import { rowSquaredNorms } from './nn-search.ts';

export interface CoresetOptions {
  readonly count: number;
  readonly starts?: number;
  readonly pick: (n: number, k: number) => number[];
  readonly blockSize?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

function distance(points: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let k = 0; k < dim; k++) {
    const d = points[oa + k]! - points[ob + k]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Mean Euclidean distance of every point to `starts` random points (the official start distances). */
export function startDistances(points: Float32Array, dim: number, options: CoresetOptions): Float64Array {
  const n = points.length / dim;
  const starts = Math.min(options.starts ?? 10, n);
  const d = new Float64Array(n);
  for (const s of options.pick(n, starts)) for (let p = 0; p < n; p++) d[p]! += distance(points, dim, p, s) / starts;
  return d;
}

/** min over centres of the Euclidean distance of every point: [n] from points [n, d], centres [b, d]. */
function buildNearestCentreGraph(): Uint8Array {
  const g = new GraphBuilder('nearest_centre');
  const points = g.input('points', 'float32', ['n', 'd']);
  const pointsSq = g.input('points_sq', 'float32', ['n', 1]);
  const centres = g.input('centres', 'float32', ['b', 'd']);
  const cross = g.op('Gemm', [points, centres], { alpha: { float: -2 }, transB: int(1) });
  const centresSq = g.op('ReduceSumSquare', [centres], { axes: ints([1]), keepdims: int(0) });
  const d2 = g.op('ReduceMin', [g.op('Add', [g.op('Add', [cross, pointsSq]), centresSq])], { axes: ints([1]), keepdims: int(0) });
  g.op('Sqrt', [g.op('Relu', [d2])], {}, 'distance');
  g.output('distance', 'float32', ['n']);
  return g.toModel(13);
}

/** Selects `count` row indices of `points` ([n, dim] row-major, the projected features), in selection order. */
export async function approximateGreedyCoreset(points: Float32Array, dim: number, options: CoresetOptions): Promise<Int32Array> {
  const n = points.length / dim;
  const count = Math.min(options.count, n);
  const blockSize = options.blockSize ?? 128;
  const bound = startDistances(points, dim, options);
  const seen = new Int32Array(n);
  const selected = new Int32Array(count);
  const session = await pooledSession('graph:nearest_centre', buildNearestCentreGraph);
  const pointsTensor = f32(points, [n, dim]);
  const pointsSq = f32(rowSquaredNorms(points, dim), [n, 1]);

  // (bound desc, index asc): a comes before b
  const before = (a: number, b: number) => bound[a]! > bound[b]! || (bound[a] === bound[b] && a < b);
  const heap = Int32Array.from({ length: n }, (_, i) => i);
  const siftDown = (from: number) => {
    let i = from;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && before(heap[l + 1]!, heap[l]!) ? l + 1 : l;
      if (!before(heap[c]!, item)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = item;
  };
  const heapify = () => {
    for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(i);
  };
  heapify();

  for (let it = 0; it < count; it++) {
    if (it > 0 && it % blockSize === 0) {
      const block = selected.subarray(it - blockSize, it);
      const centres = new Float32Array(block.length * dim);
      block.forEach((c, i) => centres.set(points.subarray(c * dim, (c + 1) * dim), i * dim));
      const out = await session.run({ points: pointsTensor, points_sq: pointsSq, centres: f32(centres, [block.length, dim]) });
      const d = out['distance']!.data as Float32Array;
      for (let p = 0; p < n; p++) {
        if (d[p]! < bound[p]!) bound[p] = d[p]!;
        seen[p] = it;
      }
      heapify();
    }
    for (;;) {
      const p = heap[0]!;
      const runnerUp = n > 2 && before(heap[2]!, heap[1]!) ? heap[2]! : n > 1 ? heap[1]! : -1;
      while (seen[p]! < it && (runnerUp < 0 || before(p, runnerUp))) {
        const d = distance(points, dim, p, selected[seen[p]!]!);
        if (d < bound[p]!) bound[p] = d;
        seen[p]!++;
      }
      if (seen[p] === it && (runnerUp < 0 || before(p, runnerUp))) {
        selected[it] = p;
        bound[p] = 0;
        seen[p] = it + 1;
        siftDown(0);
        break;
      }
      siftDown(0);
    }
    if (options.onProgress && (it % 256 === 0 || it === count - 1)) options.onProgress(it + 1, count);
  }
  return selected;
}
