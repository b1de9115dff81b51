/**
 * Exact k-nearest-neighbour search over a memory bank, as batched matrix products in ONNX Runtime.
 * Distances are squared Euclidean, as FAISS IndexFlatL2 (the official PatchCore's search) returns.
 *
 * Two graphs:
 * - brute force: ‖q − m‖² = ‖q‖² − 2·q·mᵀ + ‖m‖² against the whole bank, then TopK;
 * - pruned (used when the bank has a principal basis B, r columns): with q = Bp + r_q, m = Bp' + r_m,
 *   ‖q − m‖² ≥ ‖p − p'‖² + (‖r_q‖ − ‖r_m‖)², a lower bound that is itself a squared distance between
 *   the (r+1)-vectors [p, ‖r_q‖] and [p', ‖r_m‖]. The graph ranks the bank by that bound (an r+1-wide
 *   GEMM instead of a D-wide one), computes exact distances for the best `candidates`, and returns the
 *   k-th of the bound as a certificate: when the exact k-th distance is no larger, no other entry can
 *   be closer and the answer is exact. Uncertified queries are re-run by brute force.
 */
import { GraphBuilder, float, int, ints } from '../../engine/onnx/graph.ts';
import { f32, ort, pooledSession } from '../../engine/session.ts';
import { matmul } from '../../engine/linalg.ts';
import { clusterRows, listCount, nearestCentres, type InvertedLists } from './inverted-lists.ts';

export interface Neighbours {
  /** Squared distances [n, k], ascending per row. */
  readonly distances: Float32Array;
  /** Memory-bank row of each neighbour [n, k]. */
  readonly indices: Int32Array;
  readonly k: number;
}

function buildBruteForceGraph(): Uint8Array {
  const g = new GraphBuilder('knn');
  const q = g.input('queries', 'float32', ['n', 'd']);
  const bank = g.input('bank', 'float32', ['m', 'd']);
  const bankSq = g.input('bank_sq', 'float32', ['m']);
  const k = g.input('k', 'int64', [1]);
  // ‖m‖² − 2·q·m ranks the bank for each query; ‖q‖² is added to the k survivors only
  const ranked = g.op('Gemm', [q, bank, bankSq], { alpha: float(-2), beta: float(1), transB: int(1) });
  const [partial, indices] = g.node('TopK', [ranked, k], { largest: int(0), sorted: int(1) }, 2) as [string, string];
  const qSq = g.op('ReduceSumSquare', [q], { axes: ints([1]), keepdims: int(1) });
  g.op('Relu', [g.op('Add', [partial, qSq])], {}, 'distances');
  g.op('Identity', [indices], {}, 'indices');
  g.output('distances', 'float32', ['n', 'k']);
  g.output('indices', 'int64', ['n', 'k']);
  return g.toModel(13);
}

function buildPrunedGraph(): Uint8Array {
  const g = new GraphBuilder('knn_pruned');
  const q = g.input('queries', 'float32', ['n', 'd']);
  const basis = g.input('basis', 'float32', ['d', 'r']);
  const bankAug = g.input('bank_aug', 'float32', ['m', 'r1']);
  const bankSq = g.input('bank_sq', 'float32', ['m']);
  const bank = g.input('bank', 'float32', ['m', 'd']);
  const candidates = g.input('candidates', 'int64', [1]);
  const k = g.input('k', 'int64', [1]);
  const p = g.op('MatMul', [q, basis]);
  const qSq = g.op('ReduceSumSquare', [q], { axes: ints([1]), keepdims: int(1) });
  const residual = g.op('Sqrt', [g.op('Relu', [g.op('Sub', [qSq, g.op('ReduceSumSquare', [p], { axes: ints([1]), keepdims: int(1) })])])]);
  const qAug = g.op('Concat', [p, residual], { axis: int(1) });
  // bound − ‖q‖² (the same for every entry of a row, so it is left out of the ranking)
  const ranked = g.op('Gemm', [qAug, bankAug, bankSq], { alpha: float(-2), beta: float(1), transB: int(1) });
  const [boundK, cand] = g.node('TopK', [ranked, candidates], { largest: int(0), sorted: int(1) }, 2) as [string, string];
  // exact distances of the candidates: ‖q‖² + ‖m‖² − 2·m·q, the dot products as one batched MatMul
  const gathered = g.op('Gather', [bank, cand], { axis: int(0) });
  const dots = g.op('Squeeze', [g.op('MatMul', [gathered, g.op('Unsqueeze', [q, g.constI64([2])])]), g.constI64([2])]);
  const candSq = g.op('Gather', [bankSq, cand], { axis: int(0) });
  const exact = g.op('Relu', [g.op('Add', [g.op('Sub', [candSq, g.op('Mul', [dots, g.constF32([2], [])])]), qSq])]);
  const [, pos] = g.node('TopK', [exact, k], { largest: int(0), sorted: int(1) }, ['distances', 'pos']) as [string, string];
  g.op('GatherElements', [cand, pos], { axis: int(1) }, 'indices');
  const last = g.op('Slice', [boundK, g.constI64([-1]), g.constI64([2 ** 31]), g.constI64([1])]);
  g.op('Add', [last, qSq], {}, 'certificate');
  g.output('distances', 'float32', ['n', 'k']);
  g.output('indices', 'int64', ['n', 'k']);
  g.output('certificate', 'float32', ['n', 1]);
  return g.toModel(13);
}

/** Row squared norms of a [rows, dim] matrix. */
export function rowSquaredNorms(m: Float32Array, dim: number): Float32Array {
  const rows = m.length / dim;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = r * dim, e = c + dim; c < e; c++) s += m[c]! * m[c]!;
    out[r] = s;
  }
  return out;
}

/** Rows of the bank per covariance product (a bank up to this size is one product, as it always was). */
const COVARIANCE_BLOCK_ROWS = 16_384;

/**
 * Orthonormal basis [dim, rank] of the bank's leading principal subspace (subspace iteration on the
 * covariance, products in ONNX Runtime, Gram–Schmidt in float64). Any orthonormal basis keeps the
 * search exact; a principal one makes the bound tight.
 */
export async function principalBasis(bank: Float32Array, dim: number, rank: number, iterations = 8): Promise<Float32Array> {
  const rows = bank.length / dim;
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dim; c++) mean[c]! += bank[r * dim + c]! / rows;
  // the covariance summed over blocks of rows: memory stays two blocks, not two copies of the bank
  let cov: Float32Array | undefined;
  for (let start = 0; start < rows; start += COVARIANCE_BLOCK_ROWS) {
    const n = Math.min(COVARIANCE_BLOCK_ROWS, rows - start);
    const centred = new Float32Array(n * dim);
    const transposed = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < dim; c++) {
        const v = bank[(start + r) * dim + c]! - mean[c]!;
        centred[r * dim + c] = v;
        transposed[c * n + r] = v;
      }
    }
    const part = (await matmul(transposed, [dim, n], centred, [n, dim])).data;
    if (!cov) cov = part;
    else for (let i = 0; i < cov.length; i++) cov[i]! += part[i]!;
  }
  // deterministic start: a fixed pseudo-random matrix
  let q: Float32Array = Float32Array.from({ length: dim * rank }, (_, i) => Math.sin(i * 12.9898 + 78.233) * 43758.5453 % 1);
  for (let it = 0; it < iterations; it++) {
    q = orthonormalColumns((await matmul(cov!, [dim, dim], q, [dim, rank])).data, dim, rank);
  }
  return q;
}

/** Modified Gram–Schmidt on the columns of a [rows, cols] matrix, in float64. */
export function orthonormalColumns(a: Float32Array, rows: number, cols: number): Float32Array {
  const v = Float64Array.from(a);
  for (let j = 0; j < cols; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let r = 0; r < rows; r++) dot += v[r * cols + i]! * v[r * cols + j]!;
      for (let r = 0; r < rows; r++) v[r * cols + j]! -= dot * v[r * cols + i]!;
    }
    let norm = 0;
    for (let r = 0; r < rows; r++) norm += v[r * cols + j]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let r = 0; r < rows; r++) v[r * cols + j]! /= norm;
  }
  return Float32Array.from(v);
}

/** Caps on per-call temporaries: the distance matrix and the gathered candidates (~100 MB each). */
const MAX_DISTANCE_ENTRIES = 25_000_000;
const MAX_GATHERED_ENTRIES = 25_000_000;

export interface PruningOptions {
  /** Columns of the principal basis (the bound's dimension − 1). */
  readonly rank: number;
  /** Exact distances computed per query before certifying. */
  readonly candidates: number;
}

export const DEFAULT_PRUNING: PruningOptions = { rank: 256, candidates: 16 };

/**
 * The approximate search (`searchApproximate`): the bound over the basis's leading 64 columns ranks the
 * bank, the best 8 get exact distances (gathering their rows is most of the cost: 32 took 1.8x the
 * time), and nothing is certified or re-run. Its distances are never below the exact ones (each is an
 * exact distance to some bank row), which PatchCoreModel uses to make image scores exact anyway.
 */
export const APPROXIMATE_PRUNING: PruningOptions = { rank: 64, candidates: 8 };

type Pruning = { basis: ort.Tensor; basisData: Float32Array; bankAug: ort.Tensor; candidates: number };

/**
 * Banks of at least this many rows are searched approximately through inverted lists (inverted-lists.ts):
 * a tiled model's bank (131,072 rows over 18 tiles) took 6.3 s a part with the pruning bound over 64
 * columns, since every query still ranks the whole bank. Smaller banks (a 256 px model's, ~12,000
 * rows) keep that bound.
 */
const LISTS_FROM_ROWS = 32_768;
/** Lists whose rows a query is compared with exactly. */
const LIST_PROBES = 8;
/** Queries routed per pass (bounds the gathered copies of the queries). */
const LIST_QUERY_CHUNK = 4096;

type Lists = InvertedLists & { basis: Float32Array; members: Array<{ bank: ort.Tensor; bankSq: ort.Tensor } | null> };

export class MemoryBankIndex {
  private readonly bankTensor: ort.Tensor;
  private readonly bankSqTensor: ort.Tensor;
  private readonly bankSq: Float32Array;
  private readonly bankSqMax: number;
  private pruning?: Pruning;
  private approximatePruning?: Pruning;
  private lists?: Lists;
  /** Queries answered, how many through the inverted lists, and how many needed the brute-force fallback. */
  readonly stats = { queries: 0, listed: 0, fallbacks: 0 };

  constructor(readonly bank: Float32Array, readonly dim: number) {
    this.bankSq = rowSquaredNorms(bank, dim);
    this.bankSqMax = this.bankSq.reduce((a, b) => Math.max(a, b), 0);
    this.bankTensor = f32(bank, [this.size, dim]);
    this.bankSqTensor = f32(this.bankSq, [this.size]);
  }

  /** An index that searches with the certified lower bound (exact results, fewer FLOPs). */
  static async withPruning(bank: Float32Array, dim: number, options: PruningOptions = DEFAULT_PRUNING): Promise<MemoryBankIndex> {
    const rank = Math.min(options.rank, dim - 1);
    if (bank.length / dim <= options.candidates || rank < 1) return new MemoryBankIndex(bank, dim);
    return MemoryBankIndex.withBasis(bank, dim, await principalBasis(bank, dim, rank), options.candidates);
  }

  /**
   * The pruned index over a given orthonormal basis [dim, rank] (the one withPruning computed, kept
   * with a stored model: computing it again costs seconds at full bank size).
   */
  static async withBasis(bank: Float32Array, dim: number, basis: Float32Array, candidates: number = DEFAULT_PRUNING.candidates): Promise<MemoryBankIndex> {
    const index = new MemoryBankIndex(bank, dim);
    const rank = basis.length / dim;
    if (!Number.isInteger(rank) || rank < 1 || rank >= dim) throw new RangeError(`pruning basis of ${basis.length} values does not fit dimension ${dim}`);
    index.pruning = await index.pruningOver(basis, rank, candidates);
    return index;
  }

  /** The bound's bank side over an orthonormal basis [dim, rank]: [p', ‖r_m‖] for every bank row. */
  private async pruningOver(basis: Float32Array, rank: number, candidates: number): Promise<Pruning> {
    const dim = this.dim;
    const projected = (await matmul(this.bank, [this.size, dim], basis, [dim, rank])).data;
    const aug = new Float32Array(this.size * (rank + 1));
    for (let m = 0; m < this.size; m++) {
      let pp = 0;
      for (let j = 0; j < rank; j++) {
        const v = projected[m * rank + j]!;
        aug[m * (rank + 1) + j] = v;
        pp += v * v;
      }
      aug[m * (rank + 1) + rank] = Math.sqrt(Math.max(this.bankSq[m]! - pp, 0));
    }
    return { basis: f32(basis, [dim, rank]), basisData: basis, bankAug: f32(aug, [this.size, rank + 1]), candidates };
  }

  /** The pruning basis [dim, rank] and candidate count, when the index prunes. */
  get pruningBasis(): { readonly basis: Float32Array; readonly rank: number; readonly candidates: number } | undefined {
    const p = this.pruning;
    return p && { basis: p.basisData, rank: p.basisData.length / this.dim, candidates: p.candidates };
  }

  get size(): number {
    return this.bank.length / this.dim;
  }

  async search(queries: Float32Array, k: number): Promise<Neighbours> {
    const n = queries.length / this.dim;
    const kk = Math.min(k, this.size);
    const out: Neighbours = { distances: new Float32Array(n * kk), indices: new Int32Array(n * kk), k: kk };
    this.stats.queries += n;
    if (this.pruning && kk <= this.pruning.candidates) await this.searchPruned(queries, out, this.pruning);
    else await this.searchBruteForce(queries, Int32Array.from({ length: n }, (_, i) => i), out);
    return out;
  }

  /**
   * Nearest neighbours that may be missed: ranked by the bound over the leading columns of the pruning
   * basis (APPROXIMATE_PRUNING), exact distances for the best candidates, no certificate, no fallback.
   * Every distance returned is an exact distance to the row returned, so none is below the exact
   * search's. An index without pruning (a small bank) searches exactly.
   */
  async searchApproximate(queries: Float32Array, k: number): Promise<Neighbours> {
    const n = queries.length / this.dim;
    const kk = Math.min(k, this.size);
    if (!this.pruning || kk > APPROXIMATE_PRUNING.candidates || this.size <= APPROXIMATE_PRUNING.candidates) return this.search(queries, k);
    const out: Neighbours = { distances: new Float32Array(n * kk), indices: new Int32Array(n * kk), k: kk };
    this.stats.queries += n;
    if (this.size >= LISTS_FROM_ROWS) {
      this.stats.listed += n;
      for (let start = 0; start < n; start += LIST_QUERY_CHUNK) await this.searchLists(queries, start, Math.min(n, start + LIST_QUERY_CHUNK), out);
      return out;
    }
    if (!this.approximatePruning) {
      const rank = this.approximateRank();
      this.approximatePruning = await this.pruningOver(this.leadingBasisColumns(rank), rank, APPROXIMATE_PRUNING.candidates);
    }
    await this.searchPruned(queries, out, this.approximatePruning, false);
    return out;
  }

  /** Columns of the pruning basis the approximate search uses: APPROXIMATE_PRUNING's, or all of a narrower basis. */
  private approximateRank(): number {
    return Math.min(APPROXIMATE_PRUNING.rank, this.pruning!.basisData.length / this.dim);
  }

  /** The leading `rank` columns of the pruning basis (subspace iteration orders them by variance, roughly), [dim, rank]. */
  private leadingBasisColumns(rank: number): Float32Array {
    const full = this.pruning!.basisData;
    const fullRank = full.length / this.dim;
    if (rank > fullRank) throw new RangeError(`the pruning basis has ${fullRank} columns, ${rank} asked for`);
    const prefix = new Float32Array(this.dim * rank);
    for (let r = 0; r < this.dim; r++) for (let c = 0; c < rank; c++) prefix[r * rank + c] = full[r * fullRank + c]!;
    return prefix;
  }

  /**
   * The inverted lists, built on the first approximate search of a large bank: k-means over the bank's
   * projection on the basis's leading columns, and the bank copied in list order (each list's rows
   * contiguous, one tensor each: 512 MB more for 131,072 rows of 1024).
   */
  private async invertedLists(): Promise<Lists> {
    if (this.lists) return this.lists;
    const rank = this.approximateRank();
    const basis = this.leadingBasisColumns(rank);
    const projected = (await matmul(this.bank, [this.size, this.dim], basis, [this.dim, rank])).data;
    const lists = await clusterRows(projected, rank, listCount(this.size));
    const sorted = new Float32Array(this.bank.length);
    const sortedSq = new Float32Array(this.size);
    lists.order.forEach((row, i) => {
      sorted.set(this.bank.subarray(row * this.dim, (row + 1) * this.dim), i * this.dim);
      sortedSq[i] = this.bankSq[row]!;
    });
    const members = Array.from({ length: lists.offsets.length - 1 }, (_, l) => {
      const [from, to] = [lists.offsets[l]!, lists.offsets[l + 1]!];
      return to > from ? { bank: f32(sorted.subarray(from * this.dim, to * this.dim), [to - from, this.dim]), bankSq: f32(sortedSq.subarray(from, to), [to - from]) } : null;
    });
    this.lists = { ...lists, basis, members };
    return this.lists;
  }

  /**
   * Queries [from, to) through the inverted lists: each is routed to the LIST_PROBES lists nearest its
   * projection, the queries of a list are compared exactly with its rows in one product, and each keeps
   * its k best. A query whose lists hold fewer than k rows in all is searched exactly.
   */
  private async searchLists(queries: Float32Array, from: number, to: number, out: Neighbours): Promise<void> {
    const lists = await this.invertedLists();
    const dim = this.dim;
    const kk = out.k;
    const n = to - from;
    const part = queries.subarray(from * dim, to * dim);
    const projected = (await matmul(part, [n, dim], lists.basis, [dim, lists.rank])).data;
    const probes = Math.min(LIST_PROBES, lists.members.length);
    const routed = await nearestCentres(projected, lists.rank, lists.centroids, probes);
    // the queries of each list, grouped (counting sort over the routes)
    const L = lists.members.length;
    const first = new Int32Array(L + 1);
    for (const l of routed) first[l + 1]!++;
    for (let l = 0; l < L; l++) first[l + 1]! += first[l]!;
    const next = first.slice(0, L);
    const asking = new Int32Array(routed.length);
    routed.forEach((l, i) => (asking[next[l]!++] = Math.floor(i / probes)));
    out.distances.fill(Infinity, from * kk, to * kk);
    out.indices.fill(-1, from * kk, to * kk);
    const session = await pooledSession('graph:knn', buildBruteForceGraph);
    const gathered = new Float32Array(n * dim);
    for (let l = 0; l < L; l++) {
      const count = first[l + 1]! - first[l]!;
      const members = lists.members[l];
      if (count === 0 || !members) continue;
      for (let i = 0; i < count; i++) gathered.set(part.subarray(asking[first[l]! + i]! * dim, (asking[first[l]! + i]! + 1) * dim), i * dim);
      const k = Math.min(kk, members.bank.dims[0]!);
      const res = await session.run({ queries: f32(gathered.subarray(0, count * dim), [count, dim]), bank: members.bank, bank_sq: members.bankSq, k: int64(k) });
      const dist = res['distances']!.data as Float32Array;
      const idx = res['indices']!.data as BigInt64Array;
      for (let i = 0; i < count; i++) {
        const q = from + asking[first[l]! + i]!;
        for (let j = 0; j < k; j++) keepBest(out, q, dist[i * k + j]!, lists.order[lists.offsets[l]! + Number(idx[i * k + j]!)]!);
      }
    }
    const short: number[] = [];
    for (let q = from; q < to; q++) if (out.indices[q * kk + kk - 1] === -1) short.push(q);
    if (short.length > 0) {
      this.stats.fallbacks += short.length;
      await this.searchBruteForce(queries, Int32Array.from(short), out);
    }
  }

  private async searchPruned(queries: Float32Array, out: Neighbours, pruning: Pruning, certify = true): Promise<void> {
    const session = await pooledSession('graph:knn_pruned', buildPrunedGraph);
    const n = queries.length / this.dim;
    const kk = out.k;
    const chunk = Math.max(1, Math.min(Math.floor(MAX_DISTANCE_ENTRIES / this.size), Math.floor(MAX_GATHERED_ENTRIES / (pruning.candidates * this.dim))));
    const uncertified: number[] = [];
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const qs = queries.subarray(start * this.dim, (start + rows) * this.dim);
      const res = await session.run({
        queries: f32(qs, [rows, this.dim]),
        basis: pruning.basis,
        bank_aug: pruning.bankAug,
        bank_sq: this.bankSqTensor,
        bank: this.bankTensor,
        candidates: int64(pruning.candidates),
        k: int64(kk),
      });
      const dist = res['distances']!.data as Float32Array;
      const idx = res['indices']!.data as BigInt64Array;
      const cert = res['certificate']!.data as Float32Array;
      out.distances.set(dist, start * kk);
      for (let i = 0; i < idx.length; i++) out.indices[start * kk + i] = Number(idx[i]!);
      for (let r = 0; r < rows; r++) {
        // the bound is a float32 expansion of norms: allow for its rounding error
        let qq = 0;
        for (let c = r * this.dim; c < (r + 1) * this.dim; c++) qq += qs[c]! * qs[c]!;
        const tolerance = 1e-5 * (qq + this.bankSqMax);
        if (certify && dist[r * kk + kk - 1]! > cert[r]! - tolerance) uncertified.push(start + r);
      }
    }
    if (uncertified.length > 0) {
      this.stats.fallbacks += uncertified.length;
      await this.searchBruteForce(queries, Int32Array.from(uncertified), out);
    }
  }

  /** Brute force for the given query rows, written into `out` at those rows. */
  private async searchBruteForce(queries: Float32Array, rowsToSearch: Int32Array, out: Neighbours): Promise<void> {
    const session = await pooledSession('graph:knn', buildBruteForceGraph);
    const kk = out.k;
    const chunk = Math.max(1, Math.floor(MAX_DISTANCE_ENTRIES / this.size));
    for (let start = 0; start < rowsToSearch.length; start += chunk) {
      const rows = rowsToSearch.subarray(start, Math.min(start + chunk, rowsToSearch.length));
      const contiguous = rows.length === rows[rows.length - 1]! - rows[0]! + 1;
      const qs = contiguous
        ? queries.subarray(rows[0]! * this.dim, (rows[0]! + rows.length) * this.dim)
        : gatherRows(queries, this.dim, rows);
      const res = await session.run({ queries: f32(qs, [rows.length, this.dim]), bank: this.bankTensor, bank_sq: this.bankSqTensor, k: int64(kk) });
      const dist = res['distances']!.data as Float32Array;
      const idx = res['indices']!.data as BigInt64Array;
      rows.forEach((row, r) => {
        for (let j = 0; j < kk; j++) {
          out.distances[row * kk + j] = dist[r * kk + j]!;
          out.indices[row * kk + j] = Number(idx[r * kk + j]!);
        }
      });
    }
  }
}

/** Inserts (distance, row) into query q's ascending k best, when it is among them. */
function keepBest(out: Neighbours, q: number, distance: number, row: number): void {
  const base = q * out.k;
  let j = out.k - 1;
  if (!(distance < out.distances[base + j]!)) return;
  while (j > 0 && out.distances[base + j - 1]! > distance) {
    out.distances[base + j] = out.distances[base + j - 1]!;
    out.indices[base + j] = out.indices[base + j - 1]!;
    j--;
  }
  out.distances[base + j] = distance;
  out.indices[base + j] = row;
}

function gatherRows(m: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(m.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

function int64(v: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from([BigInt(v)]), [1]);
}
