/**
 * Exact k-nearest-neighbour search over a memory bank, as batched matrix products in ONNX Runtime:
 * ‖q − m‖² = ‖q‖² − 2·q·mᵀ + ‖m‖², then TopK. Distances are squared, as FAISS IndexFlatL2 returns.
 */
import { GraphBuilder, float, int } from '../../engine/onnx/graph.ts';
import { f32, ort, pooledSession, type Session } from '../../engine/session.ts';

export interface Neighbours {
  /** Squared distances [n, k], ascending per row. */
  readonly distances: Float32Array;
  /** Memory-bank row of each neighbour [n, k]. */
  readonly indices: Int32Array;
  readonly k: number;
}

function buildSearchGraph(): Uint8Array {
  const g = new GraphBuilder('knn');
  const q = g.input('queries', 'float32', ['n', 'd']);
  const bank = g.input('bank', 'float32', ['m', 'd']);
  const bankSq = g.input('bank_sq', 'float32', ['m']);
  const k = g.input('k', 'int64', [1]);
  const cross = g.op('Gemm', [q, bank], { alpha: float(-2), transB: int(1) });
  const qSq = g.op('ReduceSumSquare', [q], { axes: { ints: [1] }, keepdims: int(1) });
  const d2 = g.op('Relu', [g.op('Add', [g.op('Add', [cross, bankSq]), qSq])]);
  g.node('TopK', [d2, k], { largest: int(0), sorted: int(1) }, ['distances', 'indices']);
  g.output('distances', 'float32', ['n', 'k']);
  g.output('indices', 'int64', ['n', 'k']);
  return g.toModel(13);
}

function searchSession(): Promise<Session> {
  return pooledSession('graph:knn', buildSearchGraph);
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

/** Queries are split into chunks so the distance matrix stays near 100 MB. */
const MAX_DISTANCE_ENTRIES = 25_000_000;

export class MemoryBankIndex {
  private readonly bankTensor: ort.Tensor;
  private readonly bankSqTensor: ort.Tensor;

  constructor(readonly bank: Float32Array, readonly dim: number) {
    this.bankTensor = f32(bank, [bank.length / dim, dim]);
    this.bankSqTensor = f32(rowSquaredNorms(bank, dim), [bank.length / dim]);
  }

  get size(): number {
    return this.bank.length / this.dim;
  }

  async search(queries: Float32Array, k: number): Promise<Neighbours> {
    const n = queries.length / this.dim;
    const kk = Math.min(k, this.size);
    const session = await searchSession();
    const distances = new Float32Array(n * kk);
    const indices = new Int32Array(n * kk);
    const chunk = Math.max(1, Math.floor(MAX_DISTANCE_ENTRIES / this.size));
    const kTensor = new ort.Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]);
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const q = f32(queries.subarray(start * this.dim, (start + rows) * this.dim), [rows, this.dim]);
      const out = await session.run({ queries: q, bank: this.bankTensor, bank_sq: this.bankSqTensor, k: kTensor });
      distances.set(out['distances']!.data as Float32Array, start * kk);
      const idx = out['indices']!.data as BigInt64Array;
      for (let i = 0; i < idx.length; i++) indices[start * kk + i] = Number(idx[i]!);
    }
    return { distances, indices, k: kk };
  }
}
