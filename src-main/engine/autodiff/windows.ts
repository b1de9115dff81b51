/**
 * Gradients of the sliding-window ops (Conv, AveragePool, MaxPool). Padding is resolved at run time,
 * including `auto_pad` SAME_UPPER/SAME_LOWER, whose split depends on the input size.
 *
 * Input gradient: ConvTranspose of the upstream gradient with the same weights covers the padded input
 * from its first cell; a zero tail of stride-1 cells and a Slice from the leading pad to the input size
 * then give exactly the input's extent. This sidesteps ConvTranspose's `output_padding`, whose right
 * value for stride 2 SAME_UPPER depends on whether the input size is odd or even.
 */
import { int, ints, type NodeSpec } from '../onnx/graph.ts';
import { dimsOf, type GradContext, GradientError, intAttr, intsAttr, scalar, shapeOf, strAttr } from './emit.ts';

export interface Window {
  readonly nd: number;
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** Kernel spatial size as an int64 vector. */
  readonly kernel: string;
  readonly kernelStatic: readonly number[] | undefined;
  /** Leading and trailing pads per spatial axis as int64 vectors; undefined when all zero. */
  readonly pads: { readonly begin: string; readonly end: string } | undefined;
}

export function windowOf(g: GradContext, x: string, weight?: string): Window {
  const { b, node } = g;
  const kernelStatic = intsAttr(node, 'kernel_shape');
  const xRank = g.rank(x);
  const nd = kernelStatic?.length ?? intsAttr(node, 'strides')?.length ?? intsAttr(node, 'dilations')?.length ?? (xRank !== undefined ? xRank - 2 : 2);
  const strides = intsAttr(node, 'strides') ?? Array<number>(nd).fill(1);
  const dilations = intsAttr(node, 'dilations') ?? Array<number>(nd).fill(1);
  let kernel: string;
  if (kernelStatic) kernel = b.constI64(kernelStatic);
  else if (weight) kernel = dimsOf(b, weight, 2);
  else throw new GradientError(`${node.opType}: kernel_shape is required`);
  const autoPad = strAttr(node, 'auto_pad', 'NOTSET');
  let pads: Window['pads'];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const size = dimsOf(b, x, 2);
    const s = b.constI64(strides);
    const out = b.op('Div', [b.op('Sub', [b.op('Add', [size, s]), b.constI64([1])]), s]);
    const extent = b.op('Add', [b.op('Mul', [b.op('Sub', [kernel, b.constI64([1])]), b.constI64(dilations)]), b.constI64([1])]);
    const needed = b.op('Sub', [b.op('Add', [b.op('Mul', [b.op('Sub', [out, b.constI64([1])]), s]), extent]), size]);
    const total = b.op('Max', [needed, b.constI64([0])]);
    const half = b.op('Div', [total, b.constI64([2])]);
    const begin = autoPad === 'SAME_UPPER' ? half : b.op('Sub', [total, half]);
    pads = { begin, end: b.op('Sub', [total, begin]) };
  } else if (autoPad === 'NOTSET') {
    const p = intsAttr(node, 'pads');
    if (p && p.some((v) => v !== 0)) pads = { begin: b.constI64(p.slice(0, nd)), end: b.constI64(p.slice(nd)) };
  } else if (autoPad !== 'VALID') {
    throw new GradientError(`${node.opType}: unknown auto_pad '${autoPad}'`);
  }
  return { nd, strides, dilations, kernel, kernelStatic, pads };
}

const spatialAxes = (nd: number) => Array.from({ length: nd }, (_, i) => i + 2);

/** The adjoint of Conv(x, weight) with respect to x: its gradient given the output gradient dy. */
export function convInputGrad(g: GradContext, dy: string, weight: string, x: string, w: Window, group: number): string {
  const { b } = g;
  const attrs = { strides: ints(w.strides), dilations: ints(w.dilations), group: int(group), ...(w.kernelStatic ? { kernel_shape: ints(w.kernelStatic) } : {}) };
  let full = b.op('ConvTranspose', [dy, weight], attrs);
  if (w.strides.some((s) => s > 1)) {
    full = b.op('Pad', [full, b.constI64([...Array<number>(w.nd + 2).fill(0), 0, 0, ...w.strides.map((s) => s - 1)])]);
  }
  const begin = w.pads?.begin ?? b.constI64(Array<number>(w.nd).fill(0));
  return b.op('Slice', [full, begin, b.op('Add', [begin, dimsOf(b, x, 2)]), b.constI64(spatialAxes(w.nd))]);
}

/**
 * The weight gradient as a Conv with batch and channel swapped: the input (channels as batch) is
 * correlated with the upstream gradient (batch as channels), stride and dilation trading places.
 * Groups are folded into the channel axis so one grouped Conv handles depthwise weights too.
 */
export function convWeightGrad(g: GradContext, dy: string, x: string, w: Window, group: number): string {
  const { b } = g;
  const swap = [1, 0, ...spatialAxes(w.nd)];
  const zeros2 = b.constI64([0, 0]);
  const xp = w.pads ? b.op('Pad', [x, b.op('Concat', [zeros2, w.pads.begin, zeros2, w.pads.end], { axis: int(0) })]) : x;
  let xt = b.op('Transpose', [xp], { perm: ints(swap) });
  if (group > 1) {
    const dims = shapeOf(b, xt); // [Cin, N, ...spatial]
    const tail = (from: number) => b.op('Slice', [dims, b.constI64([from]), b.constI64([1 << 30])]);
    const split = b.op('Reshape', [xt, b.op('Concat', [b.constI64([group, -1]), tail(1)], { axis: int(0) })]);
    const perGroup = b.op('Transpose', [split], { perm: ints([1, 0, ...spatialAxes(w.nd + 1)]) });
    xt = b.op('Reshape', [perGroup, b.op('Concat', [b.constI64([0, -1]), tail(2)], { axis: int(0) })]);
  }
  const kernel = b.op('Transpose', [dy], { perm: ints(swap) });
  const corr = b.op('Conv', [xt, kernel], { strides: ints(w.dilations), dilations: ints(w.strides), group: int(group) });
  const cropped = b.op('Slice', [corr, b.constI64(Array<number>(w.nd).fill(0)), w.kernel, b.constI64(spatialAxes(w.nd))]);
  return b.op('Transpose', [cropped], { perm: ints(swap) });
}

/** AveragePool's adjoint: each output's gradient spread evenly over the cells it averaged. */
export function averagePoolGrad(g: GradContext, dy: string, x: string, node: NodeSpec): string {
  const { b } = g;
  if (intAttr(node, 'ceil_mode', 0) !== 0) throw new GradientError('AveragePool: ceil_mode=1 has no gradient rule');
  const w = windowOf(g, x);
  const k = w.kernelStatic!.reduce((a, c) => a * c, 1);
  let scaled: string;
  if (!w.pads || intAttr(node, 'count_include_pad', 0) === 1) {
    scaled = b.op('Mul', [dy, scalar(g, 1 / k)]);
  } else {
    // Border windows divide by the number of real cells: recover it by pooling ones with padding counted.
    const ones = b.op('Expand', [scalar(g, 1), shapeOf(b, x)]);
    const fraction = b.op('AveragePool', [ones], { ...node.attrs, count_include_pad: int(1) });
    scaled = b.op('Div', [dy, b.op('Mul', [fraction, scalar(g, k)])]);
  }
  // Channels go to the batch axis so a single 1-channel kernel of ones serves any channel count.
  const oneChannel = b.op('Reshape', [scaled, b.op('Concat', [b.constI64([-1, 1]), dimsOf(b, dy, 2)], { axis: int(0) })]);
  const ones = b.op('Expand', [scalar(g, 1), b.constI64([1, 1, ...w.kernelStatic!])]);
  const xOneChannel = b.op('Reshape', [x, b.op('Concat', [b.constI64([-1, 1]), dimsOf(b, x, 2)], { axis: int(0) })]);
  return b.op('Reshape', [convInputGrad(g, oneChannel, ones, xOneChannel, w, 1), shapeOf(b, x)]);
}

/** MaxPool's gradient goes to the arg-max cell of each window (the Indices output), summed where windows overlap. */
export function maxPoolGrad(g: GradContext, dy: string, x: string, node: NodeSpec): string {
  const { b } = g;
  let indices = node.outputs[1];
  if (!indices || intAttr(node, 'storage_order', 0) !== 0) {
    indices = b.node('MaxPool', [x], { ...node.attrs, storage_order: int(0) }, 2)[1]!;
  }
  const w = windowOf(g, x);
  const overlapping = w.kernelStatic!.some((k, i) => (k - 1) * w.dilations[i]! + 1 > w.strides[i]!);
  if (overlapping && g.opset < 16) {
    throw new GradientError('MaxPool: overlapping windows need ScatterElements reduction=add (opset >= 16)');
  }
  const zeros = b.op('Expand', [scalar(g, 0), b.op('Reshape', [b.op('Size', [x]), b.constI64([1])])]);
  const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
  const scattered = b.op('ScatterElements', [zeros, flat(indices), flat(dy)], overlapping ? { reduction: { string: 'add' } } : {});
  return b.op('Reshape', [scattered, shapeOf(b, x)]);
}
