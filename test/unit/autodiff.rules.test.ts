import { beforeAll, describe, expect, it } from 'vitest';
import { type GraphBuilder, float, int, ints, str } from '../../src-main/engine/onnx/graph.ts';
import { checkGradient, type CheckedInput, rng } from '../../src-main/engine/autodiff/check.ts';
import { batchNormRelu } from '../../src-main/engine/autodiff/composites.ts';
import type { FloatType } from '../../src-main/engine/autodiff/emit.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';

beforeAll(() => setSessionLogger(() => {}));

interface Case {
  readonly dtype?: FloatType;
  readonly inputs: readonly CheckedInput[];
  readonly build: (b: GraphBuilder, x: readonly string[]) => string;
  readonly opset?: number;
}

const count = (dims: readonly number[]) => dims.reduce((a, c) => a * c, 1);
/** Random values in [lo, hi] kept at least `gap` away from each kink, so finite differences do not straddle one. */
function values(dims: readonly number[], lo = -1, hi = 1, kinks: readonly number[] = [], gap = 0.05, seed = 7): number[] {
  const r = rng(seed + dims.length * 31 + count(dims));
  return Array.from({ length: count(dims) }, () => {
    let v = lo + (hi - lo) * r();
    for (const k of kinks) if (Math.abs(v - k) < gap) v = k + (v < k ? -gap : gap);
    return v;
  });
}
const x = (name: string, dims: number[], data?: number[], wrt = true): CheckedInput => ({ name, dims, data, wrt });
const unary = (op: string, attrs: Record<string, ReturnType<typeof int>> = {}, data?: number[]): Case => ({
  inputs: [x('x', [2, 3, 4], data)],
  build: (b, [a]) => b.op(op, [a!], attrs),
});

async function expectGradientMatches(c: Case): Promise<void> {
  const dtype = c.dtype ?? 'float64';
  const samples = await checkGradient({ dtype, inputs: c.inputs, build: c.build, opset: c.opset });
  const [atol, rtol] = dtype === 'float64' ? [1e-7, 1e-5] : [2e-3, 1e-2];
  for (const s of samples) {
    const ok = Math.abs(s.analytic - s.numeric) <= atol + rtol * Math.max(Math.abs(s.analytic), Math.abs(s.numeric));
    expect(ok, `${s.input}[${s.index}]: analytic ${s.analytic} vs numeric ${s.numeric}`).toBe(true);
  }
}

const CASES: Record<string, Case> = {
  'Add broadcasting [2,3,4] + [3,1]': { inputs: [x('a', [2, 3, 4]), x('b', [3, 1])], build: (b, [p, q]) => b.op('Add', [p!, q!]) },
  'Sub broadcasting [2,3] - [3]': { inputs: [x('a', [2, 3]), x('b', [3])], build: (b, [p, q]) => b.op('Sub', [p!, q!]) },
  'Mul broadcasting [2,1,4] * [3,1]': { inputs: [x('a', [2, 1, 4]), x('b', [3, 1])], build: (b, [p, q]) => b.op('Mul', [p!, q!]) },
  'Div broadcasting [2,3] / [1,3]': { inputs: [x('a', [2, 3]), x('b', [1, 3], values([1, 3], 0.5, 1.5))], build: (b, [p, q]) => b.op('Div', [p!, q!]) },
  'Pow with a tensor exponent': { inputs: [x('a', [2, 3], values([2, 3], 0.5, 2)), x('b', [3])], build: (b, [p, q]) => b.op('Pow', [p!, q!]) },
  Neg: unary('Neg'),
  Identity: unary('Identity'),
  Relu: unary('Relu', {}, values([2, 3, 4], -1, 1, [0])),
  'LeakyRelu alpha 0.2': unary('LeakyRelu', { alpha: float(0.2) }, values([2, 3, 4], -1, 1, [0])),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Exp: unary('Exp'),
  Log: unary('Log', {}, values([2, 3, 4], 0.2, 2)),
  Sqrt: unary('Sqrt', {}, values([2, 3, 4], 0.2, 2)),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Reciprocal: unary('Reciprocal', {}, values([2, 3, 4], 0.3, 2)),
  Abs: unary('Abs', {}, values([2, 3, 4], -1, 1, [0])),
  'Split axis 1 into unequal parts, every part used': {
    inputs: [x('x', [2, 5, 3])],
    build: (b, [v]) => {
      const [p, q] = b.node('Split', [v!, b.constI64([2, 3])], { axis: int(1) }, 2) as [string, string];
      return b.op('Concat', [b.op('Mul', [p, p]), b.op('Exp', [q])], { axis: int(1) });
    },
  },
  'Split axis -1 with one part unused (its gradient is zero)': {
    inputs: [x('x', [3, 4])],
    build: (b, [v]) => b.op('Tanh', [b.node('Split', [v!, b.constI64([1, 3])], { axis: int(-1) }, 2)[1]!]),
  },
  'Clip with min and max as inputs (opset 13)': {
    opset: 13,
    inputs: [x('x', [2, 3, 4], values([2, 3, 4], -1, 1, [-0.4, 0.6])), x('lo', [], [-0.4]), x('hi', [], [0.6])],
    build: (b, [v, lo, hi]) => b.op('Clip', [v!, lo!, hi!]),
  },
  'Clip with max only': { inputs: [x('x', [2, 3], values([2, 3], -1, 1, [0.3]))], build: (b, [v]) => b.op('Clip', [v!, '', b.initializer(b.fresh('hi'), 'float64', [], Float64Array.of(0.3))]) },
  'a tensor used twice (x*x + x)': { inputs: [x('x', [2, 3])], build: (b, [v]) => b.op('Add', [b.op('Mul', [v!, v!]), v!]) },

  'MatMul [2,3,4] @ [4,5]': { inputs: [x('a', [2, 3, 4]), x('b', [4, 5])], build: (b, [p, q]) => b.op('MatMul', [p!, q!]) },
  'MatMul batch broadcast [2,1,3,4] @ [3,4,2]': { inputs: [x('a', [2, 1, 3, 4]), x('b', [3, 4, 2])], build: (b, [p, q]) => b.op('MatMul', [p!, q!]) },
  'MatMul vector @ matrix': { inputs: [x('a', [4]), x('b', [2, 4, 5])], build: (b, [p, q]) => b.op('MatMul', [p!, q!]) },
  'MatMul matrix @ vector': { inputs: [x('a', [2, 3, 4]), x('b', [4])], build: (b, [p, q]) => b.op('MatMul', [p!, q!]) },
  ...Object.fromEntries(
    [[0, 0], [1, 0], [0, 1], [1, 1]].map(([ta, tb]) => [
      `Gemm transA=${ta} transB=${tb} alpha beta`,
      {
        inputs: [x('a', ta ? [4, 3] : [3, 4]), x('b', tb ? [5, 4] : [4, 5]), x('c', [5])],
        build: (b: GraphBuilder, [p, q, r]: readonly string[]) => b.op('Gemm', [p!, q!, r!], { transA: int(ta!), transB: int(tb!), alpha: float(0.7), beta: float(1.3) }),
      } satisfies Case,
    ]),
  ),

  'ReduceSum axes [1] keepdims 0': { inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('ReduceSum', [v!, b.constI64([1])], { keepdims: int(0) }) },
  'ReduceSum axes [-1, 0] keepdims 1': { inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('ReduceSum', [v!, b.constI64([-1, 0])]) },
  'ReduceSum over all axes': { inputs: [x('x', [2, 3])], build: (b, [v]) => b.op('ReduceSum', [v!], { keepdims: int(0) }) },
  'ReduceMean axes attribute (opset 13) keepdims 0': { opset: 13, inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('ReduceMean', [v!], { axes: ints([1, 2]), keepdims: int(0) }) },
  'ReduceMean over all axes': { inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('ReduceMean', [v!]) },
  'ReduceSumSquare axes attribute [0] keepdims 1 (opset 17)': { inputs: [x('x', [3, 4])], build: (b, [v]) => b.op('ReduceSumSquare', [v!], { axes: ints([0]), keepdims: int(1) }) },
  'ReduceSumSquare axes input [1, 2] keepdims 0 (opset 18)': { opset: 18, inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('ReduceSumSquare', [v!, b.constI64([1, 2])], { keepdims: int(0) }) },
  'ReduceSumSquare over all axes': { inputs: [x('x', [2, 3])], build: (b, [v]) => b.op('ReduceSumSquare', [v!], { keepdims: int(0) }) },
  Reshape: { inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('Reshape', [v!, b.constI64([4, -1])]) },
  'Transpose perm [2,0,1]': { inputs: [x('x', [2, 3, 4])], build: (b, [v]) => b.op('Transpose', [v!], { perm: ints([2, 0, 1]) }) },
  'Concat axis 1 of three inputs': { inputs: [x('a', [2, 1, 3]), x('b', [2, 2, 3]), x('c', [2, 3, 3])], build: (b, p) => b.op('Concat', [...p], { axis: int(1) }) },
  'Concat axis -1': { inputs: [x('a', [2, 3]), x('b', [2, 2])], build: (b, p) => b.op('Concat', [...p], { axis: int(-1) }) },
  'Slice with negative starts and step 2': {
    inputs: [x('x', [4, 6, 5])],
    build: (b, [v]) => b.op('Slice', [v!, b.constI64([-5, 1]), b.constI64([100, 4]), b.constI64([1, 2]), b.constI64([2, 1])]),
  },
  'Squeeze axes [1]': { inputs: [x('x', [2, 1, 4])], build: (b, [v]) => b.op('Squeeze', [v!, b.constI64([1])]) },
  'Unsqueeze axes [0, 3]': { inputs: [x('x', [2, 4])], build: (b, [v]) => b.op('Unsqueeze', [v!, b.constI64([0, 3])]) },
  'Expand [3,1] to [2,3,4]': { inputs: [x('x', [3, 1])], build: (b, [v]) => b.op('Expand', [v!, b.constI64([2, 3, 4])]) },

  'BatchNormalization inference mode': {
    inputs: [x('x', [2, 3, 2, 2]), x('scale', [3]), x('bias', [3]), x('mean', [3]), x('var', [3], values([3], 0.5, 1.5))],
    build: (b, p) => b.op('BatchNormalization', [...p], { epsilon: float(1e-3) }),
  },
  'BatchNormalization training mode (batch statistics)': {
    dtype: 'float32',
    opset: 15,
    inputs: [x('x', [3, 2, 2, 2]), x('scale', [2]), x('bias', [2]), x('mean', [2], [0, 0], false), x('var', [2], [1, 1], false)],
    build: (b, p) => b.node('BatchNormalization', [...p], { epsilon: float(1e-3), training_mode: int(1) }, 3)[0]!,
  },
  'MaxPool 3x3 stride 2 pad 1 (overlapping windows, opset 17)': {
    inputs: [x('x', [2, 2, 5, 6])],
    build: (b, [v]) => b.op('MaxPool', [v!], { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }),
  },
  'MaxPool 2x2 stride 2 (opset 13)': { opset: 13, inputs: [x('x', [1, 2, 4, 6])], build: (b, [v]) => b.op('MaxPool', [v!], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }) },
};

const conv = (xDims: number[], wDims: number[], attrs: Record<string, ReturnType<typeof int>>, bias = true): Case => ({
  dtype: 'float32',
  inputs: [x('x', xDims), x('w', wDims), ...(bias ? [x('b', [wDims[0]!])] : [])],
  build: (b, p) => b.op('Conv', [...p], attrs),
});
const pool = (op: string, xDims: number[], attrs: Record<string, ReturnType<typeof int>>): Case => ({ dtype: 'float32', inputs: [x('x', xDims)], build: (b, [v]) => b.op(op, [v!], attrs) });
const resize = (xDims: number[], outDims: number[] | undefined, scales: number[] | undefined, transform: string): Case => ({
  dtype: 'float32',
  inputs: [x('x', xDims)],
  build: (b, [v]) =>
    b.op('Resize', [v!, '', scales ? b.constF32(scales) : '', outDims ? b.constI64(outDims) : ''], { mode: str('linear'), coordinate_transformation_mode: str(transform) }),
});

const FLOAT32_CASES: Record<string, Case> = {
  'Conv 3x3 pad 1 with bias': conv([2, 3, 5, 6], [4, 3, 3, 3], { pads: ints([1, 1, 1, 1]) }),
  'Conv 3x3 stride 2 SAME_UPPER, even input': conv([1, 2, 8, 6], [3, 2, 3, 3], { auto_pad: str('SAME_UPPER'), strides: ints([2, 2]) }),
  'Conv 3x3 stride 2 SAME_UPPER, odd input': conv([1, 2, 7, 9], [3, 2, 3, 3], { auto_pad: str('SAME_UPPER'), strides: ints([2, 2]) }),
  'Conv 3x3 stride 2 SAME_LOWER': conv([1, 2, 7, 8], [3, 2, 3, 3], { auto_pad: str('SAME_LOWER'), strides: ints([2, 2]) }),
  'Conv stride 2 asymmetric explicit pads': conv([1, 2, 7, 8], [2, 2, 3, 2], { pads: ints([0, 1, 2, 0]), strides: ints([2, 3]) }),
  'Conv dilations 2': conv([1, 2, 7, 7], [2, 2, 3, 3], { dilations: ints([2, 2]), pads: ints([1, 2, 1, 2]) }),
  'Conv groups 2': conv([2, 4, 5, 5], [6, 2, 3, 3], { group: int(2), pads: ints([1, 1, 1, 1]) }),
  'Conv depthwise, multiplier 2, stride 2 SAME_UPPER': conv([2, 3, 6, 7], [6, 1, 3, 3], { group: int(3), auto_pad: str('SAME_UPPER'), strides: ints([2, 2]) }),
  'Conv 1x1 without bias, kernel_shape from weights': conv([1, 3, 4, 4], [2, 3, 1, 1], {}, false),
  'AveragePool 3x3 stride 2 pad 1, padding not counted': pool('AveragePool', [1, 2, 6, 7], { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }),
  'AveragePool 3x3 stride 1 pad 1, padding counted': pool('AveragePool', [1, 2, 5, 5], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), count_include_pad: int(1) }),
  'AveragePool 2x2 stride 2 SAME_UPPER': pool('AveragePool', [2, 2, 5, 6], { kernel_shape: ints([2, 2]), strides: ints([2, 2]), auto_pad: str('SAME_UPPER') }),
  GlobalAveragePool: pool('GlobalAveragePool', [2, 3, 4, 5], {}),
  'Softplus over a wide range': { dtype: 'float32', inputs: [x('x', [2, 3, 4], values([2, 3, 4], -6, 6))], build: (b, [v]) => b.op('Softplus', [v!]) },
  'Resize bilinear half_pixel up to sizes [7, 9]': resize([1, 2, 3, 4], [1, 2, 7, 9], undefined, 'half_pixel'),
  'Resize bilinear half_pixel down by scales 0.5': resize([1, 2, 8, 6], undefined, [1, 1, 0.5, 0.5], 'half_pixel'),
  'Resize bilinear align_corners up x2': resize([2, 1, 3, 4], undefined, [1, 1, 2, 2], 'align_corners'),
  'Resize bilinear asymmetric up to sizes [5, 7]': resize([1, 1, 3, 4], [1, 1, 5, 7], undefined, 'asymmetric'),
  'Resize bilinear pytorch_half_pixel to sizes [1, 6]': resize([1, 1, 3, 4], [1, 1, 1, 6], undefined, 'pytorch_half_pixel'),
  'Gemm transB with a bias vector (the bias gradient as column sums)': {
    dtype: 'float32',
    inputs: [x('a', [5, 3]), x('w', [4, 3]), x('c', [4])],
    build: (b, p) => b.op('Gemm', [...p], { transB: int(1), beta: float(0.5) }),
  },
  'composite BatchNormRelu over rows (fused gradient; some outputs clipped by the ReLU)': {
    dtype: 'float32',
    inputs: [x('h', [7, 3], values([7, 3], -2, 2)), x('gamma', [3], [0.8, -1.2, 1.5]), x('beta', [3], [0.3, -0.2, 0.1])],
    build: (b, [h, gamma, beta]) => batchNormRelu(b, h!, gamma!, beta!, 1e-3).y,
  },
};

describe('gradient rules against central finite differences (float64)', () => {
  for (const [name, c] of Object.entries(CASES)) it(name, () => expectGradientMatches(c));
});

describe('gradient rules against central finite differences (float32: ORT has no double kernel)', () => {
  for (const [name, c] of Object.entries(FLOAT32_CASES)) it(name, () => expectGradientMatches(c));
});
