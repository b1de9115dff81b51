/**
 * Static rank inference, only as far as gradient rules need it (MatMul must know whether an operand
 * is a vector). Ranks come from declared input shapes and initialiser dims and are propagated through
 * the common ops; anything else is left unknown.
 */
import type { GraphBuilder, NodeSpec } from '../onnx/graph.ts';

const SAME_AS_FIRST = new Set([
  'Identity', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Abs', 'Neg', 'Clip', 'Sign', 'Reciprocal',
  'Floor', 'Ceil', 'Erf', 'Cast', 'Softmax', 'LogSoftmax', 'Dropout', 'BatchNormalization', 'Conv', 'ConvTranspose',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Resize', 'Pad', 'Transpose', 'Concat', 'Slice', 'Tile',
  'InstanceNormalization', 'LayerNormalization', 'HardSigmoid', 'Softplus', 'BatchNormRelu',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sum', 'Max', 'Min', 'Mean', 'Where', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or']);
const REDUCE = new Set(['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp']);

export function inferRanks(b: GraphBuilder): Map<string, number> {
  const rank = new Map<string, number>();
  const constLength = new Map<string, number>();
  for (const i of b.inputs) if (i.shape) rank.set(i.name, i.shape.length);
  for (const t of b.initializers) {
    rank.set(t.name, t.dims.length);
    if (t.dims.length === 1 && t.dtype === 'int64') constLength.set(t.name, t.dims[0]!);
  }
  for (const n of b.nodes) {
    const r = nodeRank(n, (x) => rank.get(x), (x) => constLength.get(x));
    if (r !== undefined && n.outputs[0]) rank.set(n.outputs[0], r);
    if (n.opType === 'Shape' && n.outputs[0]) rank.set(n.outputs[0], 1);
  }
  return rank;
}

function nodeRank(n: NodeSpec, rank: (x: string) => number | undefined, len: (x: string) => number | undefined): number | undefined {
  const r0 = n.inputs[0] ? rank(n.inputs[0]) : undefined;
  const attrLen = (name: string) => {
    const a = n.attrs[name];
    return a && 'ints' in a ? a.ints.length : undefined;
  };
  if (SAME_AS_FIRST.has(n.opType)) return r0;
  if (BROADCAST.has(n.opType)) {
    const rs = n.inputs.map((x) => (x ? rank(x) : 0));
    return rs.every((r) => r !== undefined) ? Math.max(...(rs as number[])) : undefined;
  }
  const r1 = n.inputs[1] ? rank(n.inputs[1]) : undefined;
  switch (n.opType) {
    case 'MatMul':
      if (r0 === undefined || r1 === undefined) return undefined;
      if (r0 === 1 && r1 === 1) return 0;
      if (r0 === 1) return r1 - 1;
      if (r1 === 1) return r0 - 1;
      return Math.max(r0, r1);
    case 'Gemm':
    case 'Flatten':
      return 2;
    case 'Size':
      return 0;
    case 'Reshape':
      return n.inputs[1] ? len(n.inputs[1]) : undefined;
    case 'ConstantOfShape':
      return n.inputs[0] ? len(n.inputs[0]) : undefined;
    case 'Expand': {
      const l = n.inputs[1] ? len(n.inputs[1]) : undefined;
      return r0 === undefined || l === undefined ? undefined : Math.max(r0, l);
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const k = attrLen('axes') ?? (n.inputs[1] ? len(n.inputs[1]) : undefined);
      if (r0 === undefined || k === undefined) return undefined;
      return n.opType === 'Squeeze' ? r0 - k : r0 + k;
    }
  }
  if (REDUCE.has(n.opType)) {
    const keep = n.attrs['keepdims'];
    if (!keep || !('int' in keep) || keep.int === 1) return r0;
    const k = attrLen('axes') ?? (n.inputs[1] ? len(n.inputs[1]) : undefined);
    return r0 === undefined ? undefined : k === undefined || k === 0 ? 0 : r0 - k;
  }
  return undefined;
}
