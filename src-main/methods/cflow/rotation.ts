/**
 * Haar-random rotations for FrEIA's AllInOneBlock with permute_soft=True (METHODS.md §7.3): the
 * algorithm of scipy.stats.special_ortho_group.rvs, which FrEIA calls, with this project's seeded
 * normal draws: Q = diag(D)·H₀H₁…H_{dim−2}, H_n = I − v_n v_nᵀ (‖v_n‖² = 2) a Householder reflection of
 * a normal vector on the trailing dim − n axes, D its sign fix, the last sign chosen so that det Q = +1.
 *
 * The product is accumulated backwards in blocks of reflections (LAPACK's orgqr with the compact WY
 * form H_a…H_b = I − V T Vᵀ), so nearly all the work is two matrix products per block in ONNX Runtime:
 * a few hundred ms for C = 1280, where the reflection-by-reflection loop takes seconds in JS.
 */
import { GraphBuilder, int } from '../../engine/onnx/graph.ts';
import { f32, pooledSession } from '../../engine/session.ts';
import { Random } from '../../util/random.ts';

const BLOCK = 64;

/** sub − V·(T·(Vᵀ·sub)): one block of reflections applied to the trailing block. */
function buildBlockGraph(): Uint8Array {
  const g = new GraphBuilder('householder_block');
  const [a, v, t] = [g.input('a', 'float32', ['m', 'm']), g.input('v', 'float32', ['m', 'b']), g.input('t', 'float32', ['b', 'b'])];
  const w = g.op('Gemm', [v, a], { transA: int(1) });
  g.op('Sub', [a, g.op('MatMul', [v, g.op('MatMul', [t, w])])], {}, 'out');
  g.output('out', 'float32', ['m', 'm']);
  return g.toModel(13);
}

/** A dim × dim rotation (row-major): orthogonal with determinant +1, Haar-distributed. */
export async function haarRotation(dim: number, rng: Random): Promise<Float32Array> {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`rotation size must be a positive integer, received ${dim}`);
  const vectors: Float64Array[] = [];
  const D = new Float64Array(dim);
  for (let n = 0; n < dim - 1; n++) {
    const len = dim - n;
    const x = new Float64Array(len);
    let norm2 = 0;
    for (let i = 0; i < len; i++) {
      x[i] = rng.normal();
      norm2 += x[i]! * x[i]!;
    }
    const x0 = x[0]!;
    D[n] = x0 !== 0 ? Math.sign(x0) : 1;
    x[0] = x0 + D[n]! * Math.sqrt(norm2);
    const scale = 1 / Math.sqrt((norm2 - x0 * x0 + x[0]! * x[0]!) / 2);
    for (let i = 0; i < len; i++) x[i]! *= scale;
    vectors.push(x);
  }
  let prod = 1;
  for (let i = 0; i < dim - 1; i++) prod *= D[i]!;
  D[dim - 1] = (dim - 1) % 2 === 0 ? prod : -prod;

  const session = await pooledSession('graph:householder_block', buildBlockGraph);
  const Q = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) Q[i * dim + i] = 1;
  // Blocks [n0, n1) from the last: the product of the later blocks is the identity outside the
  // trailing (dim − n1)² block, so block [n0, n1) changes only Q[n0:, n0:].
  for (let n1 = dim - 1; n1 > 0; ) {
    const n0 = Math.max(0, n1 - BLOCK);
    const b = n1 - n0;
    const m = dim - n0;
    const V = new Float64Array(m * b);
    for (let j = 0; j < b; j++) {
      const v = vectors[n0 + j]!;
      for (let i = 0; i < v.length; i++) V[(j + i) * b + j] = v[i]!;
    }
    // T upper triangular: T_j = [[T, −T·Vᵀv_j], [0, 1]] (τ = 1 since ‖v‖² = 2)
    const T = new Float64Array(b * b);
    const dots = new Float64Array(b);
    for (let j = 0; j < b; j++) {
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let i = 0; i < m; i++) s += V[i * b + p]! * V[i * b + j]!;
        dots[p] = s;
      }
      for (let p = 0; p < j; p++) {
        let s = 0;
        for (let q = p; q < j; q++) s += T[p * b + q]! * dots[q]!;
        T[p * b + j] = -s;
      }
      T[j * b + j] = 1;
    }
    const sub = new Float32Array(m * m);
    for (let i = 0; i < m; i++) sub.set(Q.subarray((n0 + i) * dim + n0, (n0 + i + 1) * dim), i * m);
    const out = (await session.run({ a: f32(sub, [m, m]), v: f32(Float32Array.from(V), [m, b]), t: f32(Float32Array.from(T), [b, b]) }))['out']!.data as Float32Array;
    for (let i = 0; i < m; i++) Q.set(out.subarray(i * m, (i + 1) * m), (n0 + i) * dim + n0);
    n1 = n0;
  }
  for (let r = 0; r < dim; r++) {
    const d = D[r]!;
    if (d !== 1) for (let c = 0; c < dim; c++) Q[r * dim + c]! *= d;
  }
  return Q;
}
