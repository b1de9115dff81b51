/**
 * A small typed builder for ONNX graphs. Graphs are serialised with the maintained `onnx-proto`
 * definition; nothing here encodes protobuf by hand.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';
export type Dim = number | string;

const DATA_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Attribute values carry their ONNX type explicitly: 1 as an int and 1.0 as a float look alike in JS. */
export type Attr =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly graph: GraphBuilder };

export const int = (v: number): Attr => ({ int: v });
export const float = (v: number): Attr => ({ float: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });
export const floats = (v: readonly number[]): Attr => ({ floats: v });
export const str = (v: string): Attr => ({ string: v });

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[] | undefined;
}

interface Initializer {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, Attr>>;
  readonly domain: string;
}

export class GraphBuilder {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly initializers: Initializer[] = [];
  readonly nodes: NodeSpec[] = [];
  private counter = 0;

  constructor(readonly name = 'argus') {}

  /** A fresh, unused value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** A graph input; leave `shape` out for a tensor of any rank. */
  input(name: string, dtype: DType, shape?: readonly Dim[]): string {
    this.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: DType, shape?: readonly Dim[]): string {
    this.outputs.push({ name, dtype, shape });
    return name;
  }

  initializer(name: string, dtype: DType, dims: readonly number[], data: TensorData): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new RangeError(`initializer '${name}': expected ${expected} values for dims [${dims}], received ${data.length}`);
    }
    this.initializers.push({ name, dtype, dims, data });
    return name;
  }

  /** A float32 constant initialiser with a generated name. */
  constF32(data: Float32Array | readonly number[], dims: readonly number[] = [data.length]): string {
    return this.initializer(this.fresh('c'), 'float32', dims, Float32Array.from(data));
  }

  /** An int64 constant initialiser with a generated name (shapes, axes, indices). */
  constI64(data: readonly number[], dims: readonly number[] = [data.length]): string {
    return this.initializer(this.fresh('c'), 'int64', dims, BigInt64Array.from(data.map((v) => BigInt(v))));
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs: number | readonly string[] = 1, domain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    this.nodes.push({ opType, inputs, outputs: outs, attrs, domain });
    return outs;
  }

  /** Adds a single-output node and returns the output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.node(opType, inputs, attrs, output === undefined ? 1 : [output])[0]!;
  }

  toGraphProto(): InstanceType<typeof onnx.GraphProto> {
    return onnx.GraphProto.create({
      name: this.name,
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
      initializer: this.initializers.map(tensorProto),
      node: this.nodes.map((n) =>
        onnx.NodeProto.create({
          opType: n.opType,
          domain: n.domain,
          input: [...n.inputs],
          output: [...n.outputs],
          attribute: Object.entries(n.attrs).map(([name, a]) => attributeProto(name, a)),
        }),
      ),
    });
  }

  /** Serialises the graph as a model for the given default-domain opset. */
  toModel(opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'argus',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opset })],
      graph: this.toGraphProto(),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(v: ValueInfo) {
  const tensorType: Record<string, unknown> = { elemType: DATA_TYPE[v.dtype] };
  if (v.shape) {
    tensorType['shape'] = onnx.TensorShapeProto.create({
      dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    });
  }
  return onnx.ValueInfoProto.create({ name: v.name, type: onnx.TypeProto.create({ tensorType }) });
}

function tensorProto(t: Initializer) {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return onnx.TensorProto.create({ name: t.name, dataType: DATA_TYPE[t.dtype], dims: [...t.dims], rawData: bytes });
}

function attributeProto(name: string, a: Attr) {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ('float' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.ints] });
  if ('floats' in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.floats] });
  if ('string' in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.string) });
  return onnx.AttributeProto.create({ name, type: T.GRAPH, g: a.graph.toGraphProto() });
}
