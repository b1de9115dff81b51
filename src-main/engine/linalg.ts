/**
 * Dense linear algebra that runs in ONNX Runtime (so it uses its BLAS kernels and, when present, the GPU).
 */
import { GraphBuilder } from './onnx/graph.ts';
import { f32, pooledSession } from './session.ts';

function buildMatMulGraph(): Uint8Array {
  const g = new GraphBuilder('matmul');
  g.op('MatMul', [g.input('a', 'float32'), g.input('b', 'float32')], {}, 'c');
  g.output('c', 'float32');
  return g.toModel(13);
}

/** Batched matrix product with NumPy broadcasting: a [..., n, k] · b [..., k, m]. */
export async function matmul(a: Float32Array, aDims: readonly number[], b: Float32Array, bDims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await pooledSession('graph:matmul', buildMatMulGraph);
  const out = await session.run({ a: f32(a, aDims), b: f32(b, bDims) });
  const c = out['c']!;
  return { data: c.data as Float32Array, dims: c.dims };
}
