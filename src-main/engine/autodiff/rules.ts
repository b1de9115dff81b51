/**
 * The gradient rules: one entry per ONNX op type. Each rule receives the node, the upstream gradient of
 * each output, and returns the gradient of each input (null where none is needed or defined). Rules for
 * broadcasting ops sum back to the input's shape with `reduceTo`, at run time.
 */
import { int, ints } from '../onnx/graph.ts';
import {
  castTo, dimsOf, floatAttr, type GradContext, GradientError, type GradRule, intAttr, intsAttr, maskWhere, optionalInput,
  columnSums, onesRow, reduceSum, reduceTo, scalar, shapeOf, sizeAsFloat, when,
} from './emit.ts';
import { batchNormReluGrad } from './composites.ts';
import { resizeGrad } from './resize.ts';
import { averagePoolGrad, convInputGrad, convWeightGrad, maxPoolGrad, windowOf } from './windows.ts';

/** The single upstream gradient of a one-output op. */
const dy0 = (g: GradContext): string => {
  const d = g.dy[0];
  if (!d) throw new GradientError(`${g.node.opType}: no upstream gradient for output 0`);
  return d;
};
const io = (g: GradContext) => ({ x: g.node.inputs, y: g.node.outputs[0]!, dy: dy0(g), b: g.b });

export const GRADIENT_RULES: Readonly<Record<string, GradRule>> = {
  Identity: (g) => [dy0(g)],
  Neg: (g) => [g.b.op('Neg', [dy0(g)])],
  Add: (g) => { const { x, dy, b } = io(g); return [when(g.needs[0], () => reduceTo(b, dy, x[0]!)), when(g.needs[1], () => reduceTo(b, dy, x[1]!))]; },
  Sub: (g) => { const { x, dy, b } = io(g); return [when(g.needs[0], () => reduceTo(b, dy, x[0]!)), when(g.needs[1], () => reduceTo(b, b.op('Neg', [dy]), x[1]!))]; },
  Mul: (g) => {
    const { x, dy, b } = io(g);
    return [when(g.needs[0], () => reduceTo(b, b.op('Mul', [dy, x[1]!]), x[0]!)), when(g.needs[1], () => reduceTo(b, b.op('Mul', [dy, x[0]!]), x[1]!))];
  },
  Div: (g) => {
    const { x, y, dy, b } = io(g);
    return [
      when(g.needs[0], () => reduceTo(b, b.op('Div', [dy, x[1]!]), x[0]!)),
      when(g.needs[1], () => reduceTo(b, b.op('Neg', [b.op('Div', [b.op('Mul', [dy, y]), x[1]!])]), x[1]!)),
    ];
  },
  Pow: (g) => {
    const { x, y, dy, b } = io(g);
    const [base, exponent] = [x[0]!, x[1]!];
    return [
      when(g.needs[0], () => reduceTo(b, b.op('Mul', [dy, b.op('Mul', [exponent, b.op('Pow', [base, b.op('Sub', [exponent, scalar(g, 1)])])])]), base)),
      when(g.needs[1], () => reduceTo(b, b.op('Mul', [dy, b.op('Mul', [y, b.op('Log', [base])])]), exponent)),
    ];
  },
  Relu: (g) => { const { y, dy, b } = io(g); return [maskWhere(g, b.op('Greater', [y, scalar(g, 0)]), dy)]; },
  LeakyRelu: (g) => {
    const { x, dy, b } = io(g);
    return [b.op('Where', [b.op('Greater', [x[0]!, scalar(g, 0)]), dy, b.op('Mul', [dy, scalar(g, floatAttr(g.node, 'alpha', 0.01))])])];
  },
  Clip: (g) => {
    const { x, dy, b } = io(g);
    // Opset 11+ takes min/max as inputs; older models carry them as attributes.
    const lo = optionalInput(g.node, 1) ?? (g.node.attrs['min'] ? scalar(g, floatAttr(g.node, 'min', 0)) : undefined);
    const hi = optionalInput(g.node, 2) ?? (g.node.attrs['max'] ? scalar(g, floatAttr(g.node, 'max', 0)) : undefined);
    const inside = [lo && b.op('GreaterOrEqual', [x[0]!, lo]), hi && b.op('LessOrEqual', [x[0]!, hi])].filter((c): c is string => !!c);
    const dx = inside.length === 0 ? dy : maskWhere(g, inside.length === 1 ? inside[0]! : b.op('And', inside), dy);
    const bound = (i: number, cmp: 'Less' | 'Greater') => when(g.needs[i], () => reduceTo(b, maskWhere(g, b.op(cmp, [x[0]!, x[i]!]), dy), x[i]!));
    return [when(g.needs[0], () => dx), bound(1, 'Less'), bound(2, 'Greater')];
  },
  Sigmoid: (g) => { const { y, dy, b } = io(g); return [b.op('Mul', [dy, b.op('Mul', [y, b.op('Sub', [scalar(g, 1), y])])])]; },
  Tanh: (g) => { const { y, dy, b } = io(g); return [b.op('Mul', [dy, b.op('Sub', [scalar(g, 1), b.op('Mul', [y, y])])])]; },
  Exp: (g) => { const { y, dy, b } = io(g); return [b.op('Mul', [dy, y])]; },
  Log: (g) => { const { x, dy, b } = io(g); return [b.op('Div', [dy, x[0]!])]; },
  Sqrt: (g) => { const { y, dy, b } = io(g); return [b.op('Div', [dy, b.op('Add', [y, y])])]; },
  Sin: (g) => { const { x, dy, b } = io(g); return [b.op('Mul', [dy, b.op('Cos', [x[0]!])])]; },
  Cos: (g) => { const { x, dy, b } = io(g); return [b.op('Neg', [b.op('Mul', [dy, b.op('Sin', [x[0]!])])])]; },
  Reciprocal: (g) => { const { y, dy, b } = io(g); return [b.op('Neg', [b.op('Mul', [dy, b.op('Mul', [y, y])])])]; },
  Abs: (g) => { const { x, dy, b } = io(g); return [b.op('Mul', [dy, b.op('Sign', [x[0]!])])]; },
  // d/dx ln(1 + eˣ) = σ(x)
  Softplus: (g) => { const { x, dy, b } = io(g); return [b.op('Mul', [dy, b.op('Sigmoid', [x[0]!])])]; },

  MatMul: (g) => matMulGrad(g),
  Gemm: (g) => {
    const { x, dy, b } = io(g);
    const [ta, tb] = [intAttr(g.node, 'transA', 0), intAttr(g.node, 'transB', 0)];
    const alpha = floatAttr(g.node, 'alpha', 1);
    const beta = floatAttr(g.node, 'beta', 1);
    const gemm = (p: string, q: string, transA: number, transB: number) => b.op('Gemm', [p, q], { alpha: { float: alpha }, transA: int(transA), transB: int(transB) });
    return [
      when(g.needs[0], () => (ta ? gemm(x[1]!, dy, tb, 1) : gemm(dy, x[1]!, 0, 1 - tb))),
      when(g.needs[1], () => (tb ? gemm(dy, x[0]!, 1, ta) : gemm(x[0]!, dy, 1 - ta, 0))),
      // C broadcasts over the [M, N] output: sum dy's columns with a product first (fast), then what is left
      when(g.needs[2], () => {
        const scaled = beta === 1 ? dy : b.op('Mul', [dy, scalar(g, beta)]);
        const vector = g.rank(x[2]!) === 0 || g.rank(x[2]!) === 1;
        return reduceTo(b, vector ? columnSums(b, scaled, onesRow(b, dy, g.dtype)) : scaled, x[2]!);
      }),
    ];
  },

  ReduceSum: (g) => [reduceGrad(g, optionalInput(g.node, 1))],
  ReduceMean: (g) => {
    const { x, y, b } = io(g);
    const axes = g.opset >= 18 ? optionalInput(g.node, 1) : intsAttr(g.node, 'axes') && b.constI64(intsAttr(g.node, 'axes')!);
    return [b.op('Mul', [reduceGrad(g, axes), b.op('Div', [sizeAsFloat(g, y), sizeAsFloat(g, x[0]!)])])];
  },
  // Σ x²: 2 x ⊙ dy broadcast back (axes an attribute before opset 18, an input from 18); kept or
  // all-reduced axes broadcast as they are, so x ⊙ 2dy is one pass over x
  ReduceSumSquare: (g) => {
    const { x, dy, b } = io(g);
    const axes = g.opset >= 18 ? optionalInput(g.node, 1) : intsAttr(g.node, 'axes') && b.constI64(intsAttr(g.node, 'axes')!);
    const broadcasts = intAttr(g.node, 'keepdims', 1) === 1 || (!axes && intAttr(g.node, 'noop_with_empty_axes', 0) === 0);
    const twice = (t: string) => b.op('Add', [t, t]);
    const dx = broadcasts ? b.op('Mul', [x[0]!, twice(dy)]) : b.op('Mul', [reduceGrad(g, axes), twice(x[0]!)]);
    return [dx, ...x.slice(1).map(() => null)];
  },
  GlobalAveragePool: (g) => {
    const { x, y, dy, b } = io(g);
    return [b.op('Mul', [b.op('Expand', [dy, shapeOf(b, x[0]!)]), b.op('Div', [sizeAsFloat(g, y), sizeAsFloat(g, x[0]!)])])];
  },
  Reshape: (g) => reshapeBack(g),
  Squeeze: (g) => reshapeBack(g),
  Unsqueeze: (g) => reshapeBack(g),
  Flatten: (g) => reshapeBack(g),
  Expand: (g) => { const { x, dy, b } = io(g); return [reduceTo(b, dy, x[0]!), null]; },
  Transpose: (g) => {
    const { dy, b } = io(g);
    const perm = intsAttr(g.node, 'perm');
    if (!perm) return [b.op('Transpose', [dy])]; // the default reverses the axes, its own inverse
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [b.op('Transpose', [dy], { perm: ints(inverse) })];
  },
  Split: (g) => splitGrad(g),
  Concat: (g) => {
    const { x, dy, b } = io(g);
    const axis = intAttr(g.node, 'axis', 0);
    let start = b.constI64([0]);
    return x.map((xi, i) => {
      const end = b.op('Add', [start, dimsOf(b, xi, axis, axis === -1 ? 1 << 30 : axis + 1)]);
      const part = when(g.needs[i], () => b.op('Slice', [dy, start, end, b.constI64([axis])]));
      start = end;
      return part;
    });
  },
  Slice: (g) => {
    // Slice picks distinct cells, so its adjoint scatters dy back to the flat indices the same Slice picks from an index grid.
    const { x, dy, b } = io(g);
    const size = b.op('Size', [x[0]!]);
    const grid = b.op('Reshape', [b.op('Range', [b.constI64([0], []), size, b.constI64([1], [])]), shapeOf(b, x[0]!)]);
    const picked = b.op('Slice', [grid, ...x.slice(1)], g.node.attrs);
    const zeros = b.op('Expand', [scalar(g, 0), b.op('Reshape', [size, b.constI64([1])])]);
    const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
    return [b.op('Reshape', [b.op('ScatterElements', [zeros, flat(picked), flat(dy)]), shapeOf(b, x[0]!)]), ...x.slice(1).map(() => null)];
  },

  Conv: (g) => {
    const { x, dy, b } = io(g);
    const group = intAttr(g.node, 'group', 1);
    const w = windowOf(g, x[0]!, x[1]!);
    const biasAxes = b.constI64([0, ...Array.from({ length: w.nd }, (_, i) => i + 2)]);
    return [
      when(g.needs[0], () => convInputGrad(g, dy, x[1]!, x[0]!, w, group)),
      when(g.needs[1], () => convWeightGrad(g, dy, x[0]!, w, group)),
      when(g.needs[2], () => reduceSum(b, dy, biasAxes, false)),
    ];
  },
  AveragePool: (g) => { const { x, dy } = io(g); return [averagePoolGrad(g, dy, x[0]!, g.node)]; },
  MaxPool: (g) => { const { x, dy } = io(g); return [maxPoolGrad(g, dy, x[0]!, g.node)]; },
  Resize: (g) => { const { x, y, dy } = io(g); return [resizeGrad(g, dy, x[0]!, y, g.node), ...x.slice(1).map(() => null)]; },
  BatchNormalization: (g) => batchNormGrad(g),
  BatchNormRelu: batchNormReluGrad,
};

/** Split's adjoint: the parts' gradients concatenated back along the axis, zeros for parts without one. */
function splitGrad(g: GradContext): (string | null)[] {
  const { b } = g;
  const axis = intAttr(g.node, 'axis', 0);
  const zero = { tensor: { dtype: g.dtype, dims: [1], data: g.dtype === 'float64' ? Float64Array.of(0) : Float32Array.of(0) } } as const;
  const parts = g.node.outputs.map((y, i) => g.dy[i] ?? b.op('ConstantOfShape', [shapeOf(b, y)], { value: zero }));
  return [parts.length === 1 ? parts[0]! : b.op('Concat', parts, { axis: int(axis) }), ...g.node.inputs.slice(1).map(() => null)];
}

function reshapeBack(g: GradContext): (string | null)[] {
  const { x, dy, b } = io(g);
  return [b.op('Reshape', [dy, shapeOf(b, x[0]!)]), ...x.slice(1).map(() => null)];
}

/** Reduce* adjoint: put the reduced axes back as size 1 (when dropped), then broadcast to the input. */
function reduceGrad(g: GradContext, axes: string | undefined): string {
  const { x, dy, b } = io(g);
  const keepdims = intAttr(g.node, 'keepdims', 1) === 1;
  const noop = intAttr(g.node, 'noop_with_empty_axes', 0) === 1;
  if (!axes && noop) return dy;
  if (keepdims || !axes) return b.op('Expand', [dy, shapeOf(b, x[0]!)]);
  const ones = b.op('Expand', [b.constI64([1]), shapeOf(b, axes)]);
  const kept = b.op('ScatterElements', [shapeOf(b, x[0]!), axes, ones]);
  return b.op('Expand', [b.op('Reshape', [dy, kept]), shapeOf(b, x[0]!)]);
}

/** MatMul with numpy semantics: vectors are promoted to matrices, batch axes broadcast and summed back. */
function matMulGrad(g: GradContext): (string | null)[] {
  const { x, dy, b } = io(g);
  const [ra, rb] = [g.rank(x[0]!), g.rank(x[1]!)];
  if (ra === undefined || rb === undefined) throw new GradientError(`MatMul: the ranks of '${x[0]}' and '${x[1]}' must be known (declare input shapes)`);
  const unsqueeze = (t: string, axis: number) => b.op('Unsqueeze', [t, b.constI64([axis])]);
  const a = ra === 1 ? unsqueeze(x[0]!, 0) : x[0]!;
  const m = rb === 1 ? unsqueeze(x[1]!, 1) : x[1]!;
  let d = ra === 1 ? unsqueeze(dy, -2) : dy;
  if (rb === 1) d = unsqueeze(d, -1);
  const swapLast = (t: string, r: number) => b.op('Transpose', [t], { perm: ints([...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]) });
  // Sum over broadcast batch axes to the promoted operand's shape, then drop the promoted axis.
  const back = (grad: string, promoted: string, original: string) => {
    const reduced = reduceTo(b, grad, promoted);
    return promoted === original ? reduced : b.op('Reshape', [reduced, shapeOf(b, original)]);
  };
  return [
    when(g.needs[0], () => back(b.op('MatMul', [d, swapLast(m, Math.max(rb, 2))]), a, x[0]!)),
    when(g.needs[1], () => back(b.op('MatMul', [swapLast(a, Math.max(ra, 2)), d]), m, x[1]!)),
  ];
}

/**
 * BatchNormalization in inference mode (fixed mean/var inputs) and in training mode (batch statistics,
 * population variance), both written with primitive ops.
 */
function batchNormGrad(g: GradContext): (string | null)[] {
  const { x, dy, b } = io(g);
  if (g.dy[1] || g.dy[2]) throw new GradientError('BatchNormalization: gradients through the running statistics are not supported');
  const [input, scale, , mean, variance] = x as [string, string, string, string, string];
  const eps = scalar(g, floatAttr(g.node, 'epsilon', 1e-5));
  const training = intAttr(g.node, 'training_mode', 0) === 1;
  // Per-channel vectors reshaped to [C, 1, ...] so they broadcast over [N, C, ...spatial]; the axes
  // other than C are static when the rank is known (ORT 1.30 mis-infers Range's shape here otherwise).
  const r = g.rank(input);
  let channelShape: string;
  let axes: string;
  if (r !== undefined) {
    channelShape = b.constI64([-1, ...Array<number>(r - 2).fill(1)]);
    axes = b.constI64([0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)]);
  } else {
    const rank = b.op('Size', [shapeOf(b, input)]);
    const ones = b.op('Expand', [b.constI64([1]), b.op('Sub', [b.op('Reshape', [rank, b.constI64([1])]), b.constI64([2])])]);
    channelShape = b.op('Concat', [b.constI64([-1]), ones], { axis: int(0) });
    axes = b.op('Concat', [b.constI64([0]), b.op('Range', [b.constI64([2], []), rank, b.constI64([1], [])])], { axis: int(0) });
  }
  const perChannel = (v: string) => b.op('Reshape', [v, channelShape]);
  const sumOver = (t: string, keep: boolean) => reduceSum(b, t, axes, keep);
  const dB = () => sumOver(dy, false);
  if (!training) {
    const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, eps])])]);
    const centred = b.op('Sub', [input, perChannel(mean)]);
    return [
      when(g.needs[0], () => b.op('Mul', [dy, perChannel(b.op('Mul', [scale, inv]))])),
      when(g.needs[1], () => b.op('Mul', [sumOver(b.op('Mul', [dy, centred]), false), inv])),
      when(g.needs[2], dB),
      when(g.needs[3], () => b.op('Neg', [b.op('Mul', [dB(), b.op('Mul', [scale, inv])])])),
      when(g.needs[4], () => {
        const inv3 = b.op('Mul', [inv, b.op('Mul', [inv, inv])]);
        return b.op('Mul', [sumOver(b.op('Mul', [dy, centred]), false), b.op('Mul', [scale, b.op('Mul', [inv3, scalar(g, -0.5)])])]);
      }),
    ];
  }
  // training mode, with c = x − μ and k = γ/σ per channel (σ² the population variance + ε):
  //   dx = k·dy − c·k·Σ(dy·c)/(N σ²) − k·Σdy/N,   dγ = Σ(dy·c)/σ,   dβ = Σdy
  // (eleven passes over x; the normalised x̂ is never formed)
  const count = b.op('Div', [sizeAsFloat(g, input), castTo(g, b.op('Slice', [shapeOf(b, input), b.constI64([1]), b.constI64([2])]))]);
  const centred = b.op('Sub', [input, b.op('Div', [sumOver(input, true), count])]);
  const batchVariance = b.op('Div', [sumOver(b.op('Mul', [centred, centred]), true), count]);
  const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [batchVariance, eps])])]);
  const sumDy = sumOver(dy, true);
  const sumDyC = sumOver(b.op('Mul', [dy, centred]), true);
  const k = b.op('Mul', [perChannel(scale), inv]);
  const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
  return [
    when(g.needs[0], () => {
      const kc = b.op('Div', [b.op('Mul', [k, b.op('Mul', [b.op('Mul', [inv, inv]), sumDyC])]), count]);
      const kd = b.op('Div', [b.op('Mul', [k, sumDy]), count]);
      return b.op('Sub', [b.op('Sub', [b.op('Mul', [dy, k]), b.op('Mul', [centred, kc])]), kd]);
    }),
    when(g.needs[1], () => flat(b.op('Mul', [sumDyC, inv]))),
    when(g.needs[2], () => flat(sumDy)),
    null,
    null,
  ];
}
