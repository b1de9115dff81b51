/**
 * Bilinear Resize is Y = A_h · X · A_wᵀ per (n, c) plane, with A an interpolation matrix [out, in];
 * its gradient is dX = A_hᵀ · dY · A_w. The matrices are built at run time from the actual sizes,
 * following ONNX Runtime's linear mode: coordinates transformed, clamped to [0, in-1], two taps.
 */
import type { NodeSpec } from '../onnx/graph.ts';
import { castTo, dimsOf, type GradContext, GradientError, optionalInput, scalar, strAttr } from './emit.ts';

const TRANSFORMS = new Set(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric']);

export function resizeGrad(g: GradContext, dy: string, x: string, y: string, node: NodeSpec): string {
  const { b } = g;
  const mode = strAttr(node, 'mode', 'nearest');
  const transform = strAttr(node, 'coordinate_transformation_mode', 'half_pixel');
  if (mode !== 'linear') throw new GradientError(`Resize: mode '${mode}' has no gradient rule (only 'linear')`);
  if (!TRANSFORMS.has(transform)) throw new GradientError(`Resize: coordinate_transformation_mode '${transform}' has no gradient rule`);
  if (g.rank(x) !== undefined && g.rank(x) !== 4) throw new GradientError('Resize: the gradient rule handles 4-D NCHW inputs only');
  const scales = optionalInput(node, 2);
  const sizes = optionalInput(node, 3);
  const matrix = (axis: number) => {
    const inLen = castTo(g, dimsOf(b, x, axis, axis + 1));
    const outLen = castTo(g, dimsOf(b, y, axis, axis + 1));
    // With `sizes`, ORT uses out/in as the scale; with `scales` it uses the given value.
    const scale = scales && !sizes ? castTo(g, b.op('Slice', [scales, b.constI64([axis]), b.constI64([axis + 1])])) : b.op('Div', [outLen, inLen]);
    return interpolationMatrix(g, inLen, outLen, scale, transform);
  };
  const ah = matrix(2);
  const aw = matrix(3);
  const rows = b.op('MatMul', [b.op('Transpose', [ah], { perm: { ints: [1, 0] } }), dy]);
  return b.op('MatMul', [rows, aw]);
}

/** [out, in] matrix of linear interpolation weights; inLen/outLen/scale are 1-element float vectors. */
function interpolationMatrix(g: GradContext, inLen: string, outLen: string, scale: string, transform: string): string {
  const { b } = g;
  const zero = scalar(g, 0);
  const one = scalar(g, 1);
  const half = scalar(g, 0.5);
  const toScalar = (v: string) => b.op('Reshape', [v, b.constI64([])]);
  const o = b.op('Range', [zero, toScalar(outLen), one]);
  let src: string;
  if (transform === 'align_corners') {
    const ratio = b.op('Div', [b.op('Sub', [inLen, one]), b.op('Max', [b.op('Sub', [outLen, one]), one])]);
    src = b.op('Mul', [o, ratio]);
  } else if (transform === 'asymmetric') {
    src = b.op('Div', [o, scale]);
  } else {
    src = b.op('Sub', [b.op('Div', [b.op('Add', [o, half]), scale]), half]);
    if (transform === 'pytorch_half_pixel') src = b.op('Where', [b.op('Greater', [outLen, one]), src, zero]);
  }
  const last = b.op('Sub', [inLen, one]);
  src = b.op('Min', [b.op('Max', [src, zero]), last]);
  const lo = b.op('Floor', [src]);
  const hi = b.op('Min', [b.op('Add', [lo, one]), last]);
  const frac = b.op('Sub', [src, lo]);
  const column = (v: string) => b.op('Unsqueeze', [v, b.constI64([1])]);
  const cells = b.op('Unsqueeze', [b.op('Range', [zero, toScalar(inLen), one]), b.constI64([0])]);
  const tap = (pos: string, weight: string) => b.op('Where', [b.op('Equal', [column(pos), cells]), column(weight), zero]);
  return b.op('Add', [tap(lo, b.op('Sub', [one, frac])), tap(hi, frac)]);
}

