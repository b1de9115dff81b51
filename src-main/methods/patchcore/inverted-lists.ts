/**
 * Inverted lists over a large memory bank, as FAISS's IndexIVFFlat: the bank's rows are clustered by
 * k-means in a low-dimensional projection, and a query is compared exactly with the rows of only the
 * few lists whose centroids lie nearest its own projection (nn-search.ts: MemoryBankIndex's approximate
 * search of banks of LISTS_FROM_ROWS rows or more). This file clusters and routes; the exact distances
 * within the lists are the index's.
 */
import { GraphBuilder, float, int } from '../../engine/onnx/graph.ts';
import { f32, ort, pooledSession } from '../../engine/session.ts';

export interface InvertedLists {
  /** Centroids in the projection, [lists, rank]. */
  readonly centroids: Float32Array;
  readonly rank: number;
  /** List l holds the bank rows order[offsets[l]] .. order[offsets[l + 1] - 1]. */
  readonly offsets: Int32Array;
  readonly order: Int32Array;
}

/** Lists for a bank of `rows`: about 2·√rows (FAISS's guideline is 1 to 16·√rows), so a list holds about √rows / 2. */
export function listCount(rows: number): number {
  return Math.max(1, Math.min(rows, Math.round(2 * Math.sqrt(rows))));
}

/** Per-call cap on the point × centroid score matrix (~100 MB). */
const MAX_SCORE_ENTRIES = 25_000_000;

/** The `k` nearest centroids of every point: [n, k] from points [n, r] and centroids [c, r]. */
function buildNearestCentresGraph(): Uint8Array {
  const g = new GraphBuilder('nearest_centres');
  const points = g.input('points', 'float32', ['n', 'r']);
  const centroids = g.input('centroids', 'float32', ['c', 'r']);
  const centroidsSq = g.input('centroids_sq', 'float32', ['c']);
  const k = g.input('k', 'int64', [1]);
  // ‖c‖² − 2·p·c ranks the centroids of each point (‖p‖² is the same along the row)
  const ranked = g.op('Gemm', [points, centroids, centroidsSq], { alpha: float(-2), beta: float(1), transB: int(1) });
  const [, indices] = g.node('TopK', [ranked, k], { largest: int(0), sorted: int(1) }, ['ranks', 'indices']) as [string, string];
  g.output(indices, 'int64', ['n', 'k']);
  return g.toModel(13);
}

/** For each of the `points` ([n, rank]), its `k` nearest centroids, nearest first: [n, k]. */
export async function nearestCentres(points: Float32Array, rank: number, centroids: Float32Array, k: number): Promise<Int32Array> {
  const session = await pooledSession('graph:nearest_centres', buildNearestCentresGraph);
  const n = points.length / rank;
  const c = centroids.length / rank;
  const kk = Math.min(k, c);
  const sq = new Float32Array(c);
  for (let i = 0; i < c; i++) for (let j = 0; j < rank; j++) sq[i]! += centroids[i * rank + j]! ** 2;
  const fixed = { centroids: f32(centroids, [c, rank]), centroids_sq: f32(sq, [c]), k: new ort.Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]) };
  const out = new Int32Array(n * kk);
  const chunk = Math.max(1, Math.floor(MAX_SCORE_ENTRIES / c));
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const res = await session.run({ points: f32(points.subarray(start * rank, (start + rows) * rank), [rows, rank]), ...fixed });
    const idx = res['indices']!.data as BigInt64Array;
    for (let i = 0; i < idx.length; i++) out[start * kk + i] = Number(idx[i]!);
  }
  return out;
}

/**
 * Lloyd's k-means over `points` ([n, rank], the bank's projection) into `lists` lists. Deterministic:
 * the first `lists` rows start as centroids (a coreset bank is in farthest-first order, so they are
 * spread over it), ties go to the lower centroid, an emptied centroid stays where it was.
 */
export async function clusterRows(points: Float32Array, rank: number, lists: number, iterations = 8): Promise<InvertedLists> {
  const n = points.length / rank;
  const c = Math.min(lists, n);
  const centroids = points.slice(0, c * rank);
  let assigned: Int32Array = new Int32Array(n);
  for (let it = 0; it <= iterations; it++) {
    assigned = await nearestCentres(points, rank, centroids, 1);
    if (it === iterations) break;
    const sums = new Float64Array(c * rank);
    const counts = new Int32Array(c);
    for (let p = 0; p < n; p++) {
      const l = assigned[p]!;
      counts[l]!++;
      for (let j = 0; j < rank; j++) sums[l * rank + j]! += points[p * rank + j]!;
    }
    for (let l = 0; l < c; l++) if (counts[l]! > 0) for (let j = 0; j < rank; j++) centroids[l * rank + j] = sums[l * rank + j]! / counts[l]!;
  }
  // counting sort of the rows by list, each list in ascending row order
  const offsets = new Int32Array(c + 1);
  for (let p = 0; p < n; p++) offsets[assigned[p]! + 1]!++;
  for (let l = 0; l < c; l++) offsets[l + 1]! += offsets[l]!;
  const next = offsets.slice(0, c);
  const order = new Int32Array(n);
  for (let p = 0; p < n; p++) order[next[assigned[p]!]!++] = p;
  return { centroids, rank, offsets, order };
}
