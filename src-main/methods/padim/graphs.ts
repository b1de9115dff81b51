/**
 * PaDiM's ONNX graphs: the embedding (random channel subset of the taps, aligned by nearest
 * replication), the per-position moments used to fit, and the Mahalanobis distance used to score.
 */
import { GraphBuilder, ints, int } from '../../engine/onnx/graph.ts';
import { alignToFirstTap } from '../../features/patch-embedding.ts';
import type { FeatureTap } from '../../features/backbones.ts';

/**
 * Input: the taps and their alignment matrices (nearest mode). Output `embedding` [n, d, H·W] on the
 * first tap's grid; channel order is ascending index into the concatenation of all taps' channels.
 */
export function buildPadimEmbeddingGraph(taps: readonly FeatureTap[], channels: readonly number[]): Uint8Array {
  const g = new GraphBuilder('padim_embedding');
  const parts: string[] = [];
  let base = 0;
  taps.forEach((tap, l) => {
    const mine = channels.filter((c) => c >= base && c < base + tap.channels).map((c) => c - base);
    base += tap.channels;
    const x = g.input(tap.name, 'float32', ['n', tap.channels, `h${l}`, `w${l}`]);
    // every tap after the first brings alignment inputs, used or not, so feeds never depend on the sample
    const y = g.op('Gather', [x, g.constI64(mine.length > 0 ? mine : [0])], { axis: int(1) });
    const aligned = l > 0 ? alignToFirstTap(g, y, tap.name) : y;
    if (mine.length > 0) parts.push(aligned);
  });
  const cat = parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: int(1) });
  g.op('Reshape', [cat, g.constI64([0, channels.length, -1])], {}, 'embedding');
  g.output('embedding', 'float32', ['n', channels.length, 'hw']);
  return g.toModel(13);
}

/** Inputs x [n, d, P], shift [P, d]. Outputs sum [P, d] and cross [P, d, d] of y = x − shift. */
export function buildMomentsGraph(): Uint8Array {
  const g = new GraphBuilder('padim_moments');
  const x = g.input('x', 'float32', ['n', 'd', 'p']);
  const shift = g.input('shift', 'float32', ['p', 'd']);
  const y = g.op('Sub', [g.op('Transpose', [x], { perm: ints([2, 0, 1]) }), g.op('Unsqueeze', [shift, g.constI64([1])])]);
  g.op('ReduceSum', [y, g.constI64([1])], { keepdims: int(0) }, 'sum');
  g.op('MatMul', [g.op('Transpose', [y], { perm: ints([0, 2, 1]) }), y], {}, 'cross');
  g.output('sum', 'float32', ['p', 'd']);
  g.output('cross', 'float32', ['p', 'd', 'd']);
  return g.toModel(13);
}

/** Inputs x [n, d, P], mean [P, d], whitening [P, d, d] (Mᵀ). Output distance [n, P] (Mahalanobis = ‖M·(x − μ)‖). */
export function buildMahalanobisGraph(): Uint8Array {
  const g = new GraphBuilder('padim_mahalanobis');
  const x = g.input('x', 'float32', ['n', 'd', 'p']);
  const mean = g.input('mean', 'float32', ['p', 'd']);
  const whitening = g.input('whitening', 'float32', ['p', 'd', 'd']);
  const diff = g.op('Sub', [g.op('Transpose', [x], { perm: ints([2, 0, 1]) }), g.op('Unsqueeze', [mean, g.constI64([1])])]);
  const quad = g.op('ReduceSumSquare', [g.op('MatMul', [diff, whitening])], { axes: ints([2]), keepdims: int(0) });
  g.op('Transpose', [g.op('Sqrt', [quad])], { perm: ints([1, 0]) }, 'distance');
  g.output('distance', 'float32', ['n', 'p']);
  return g.toModel(13);
}
