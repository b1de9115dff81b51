/**
 * PaDiM's ONNX graphs: the embedding (random channel subset of the taps, aligned by nearest
 * replication), the per-position moments used to fit, and the Mahalanobis distance used to score.
 */
import { GraphBuilder, ints, str, int } from '../../engine/onnx/graph.ts';
import type { FeatureTap } from '../../features/backbones.ts';

/**
 * Input: the taps. Output `embedding` [n, d, H·W] on the first tap's grid; channel order is the
 * order of `channels` (indices into the concatenation of all taps' channels).
 */
export function buildPadimEmbeddingGraph(taps: readonly FeatureTap[], channels: readonly number[]): Uint8Array {
  const g = new GraphBuilder('padim_embedding');
  const first = g.input(taps[0]!.name, 'float32', ['n', taps[0]!.channels, 'h', 'w']);
  const gridShape = g.op('Slice', [g.op('Shape', [first]), g.constI64([2]), g.constI64([4])]);
  const parts: string[] = [];
  let base = 0;
  taps.forEach((tap, l) => {
    const mine = channels.filter((c) => c >= base && c < base + tap.channels).map((c) => c - base);
    base += tap.channels;
    const x = l === 0 ? first : g.input(tap.name, 'float32', ['n', tap.channels, `h${l}`, `w${l}`]);
    if (mine.length === 0) return;
    let y = g.op('Gather', [x, g.constI64(mine)], { axis: int(1) });
    if (l > 0) {
      const size = g.op('Concat', [g.op('Slice', [g.op('Shape', [y]), g.constI64([0]), g.constI64([2])]), gridShape], { axis: int(0) });
      y = g.op('Resize', [y, '', '', size], { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') });
    }
    parts.push(y);
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

/** Inputs x [n, d, P], mean [P, d], precision [P, d, d]. Output distance [n, P] (Mahalanobis). */
export function buildMahalanobisGraph(): Uint8Array {
  const g = new GraphBuilder('padim_mahalanobis');
  const x = g.input('x', 'float32', ['n', 'd', 'p']);
  const mean = g.input('mean', 'float32', ['p', 'd']);
  const precision = g.input('precision', 'float32', ['p', 'd', 'd']);
  const diff = g.op('Sub', [g.op('Transpose', [x], { perm: ints([2, 0, 1]) }), g.op('Unsqueeze', [mean, g.constI64([1])])]);
  const quad = g.op('ReduceSum', [g.op('Mul', [g.op('MatMul', [diff, precision]), diff]), g.constI64([2])], { keepdims: int(0) });
  g.op('Transpose', [g.op('Sqrt', [g.op('Relu', [quad])])], { perm: ints([1, 0]) }, 'distance');
  g.output('distance', 'float32', ['n', 'p']);
  return g.toModel(13);
}
