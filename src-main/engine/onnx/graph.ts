/**
 * A small typed builder for ONNX graphs. Graphs are serialised with the maintained `onnx-proto`
 * definition; nothing here encodes protobuf by hand.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
export type Dim = number | string;

const DATA_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Attribute values carry their ONNX type explicitly: 1 as an int and 1.0 as a float look alike in JS. */
export type Attr =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }
  | { readonly tensor: TensorValue }
  | { readonly graph: GraphBuilder };

export const int = (v: number): Attr => ({ int: v });
export const float = (v: number): Attr => ({ float: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });
export const floats = (v: readonly number[]): Attr => ({ floats: v });
export const str = (v: string): Attr => ({ string: v });
export const tensor = (v: TensorValue): Attr => ({ tensor: v });

/** The ONNX `TensorProto.DataType` code of each supported dtype. */
export const ONNX_DATA_TYPE: Readonly<Record<DType, number>> = DATA_TYPE;

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A constant tensor, as held by an initialiser or a `Constant` node's `value` attribute. */
export interface TensorValue {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** One entry of a model's opset imports. */
export interface OpsetId {
  readonly domain: string;
  readonly version: number;
}

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[] | undefined;
}

export interface Initializer {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export interface NodeSpec {
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
  /** Every value name defined so far, so `fresh` never collides with imported names such as `conv_5`. */
  private readonly taken = new Set<string>();

  constructor(readonly name = 'argus') {}

  /** A fresh, unused value name with a readable prefix. */
  fresh(prefix: string): string {
    let name = `${prefix}_${this.counter++}`;
    while (this.taken.has(name)) name = `${prefix}_${this.counter++}`;
    this.taken.add(name);
    return name;
  }

  /** Marks names as used (values defined outside this builder, e.g. an outer graph's). */
  reserve(...names: readonly string[]): void {
    for (const n of names) this.taken.add(n);
  }

  /** A graph input; leave `shape` out for a tensor of any rank. */
  input(name: string, dtype: DType, shape?: readonly Dim[]): string {
    this.inputs.push({ name, dtype, shape });
    this.taken.add(name);
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
    this.taken.add(name);
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
    for (const o of outs) this.taken.add(o);
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

  /** Serialises the graph as a model for the given default-domain opset (plus any other domains it uses). */
  toModel(opset = 17, otherOpsets: readonly OpsetId[] = []): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'argus',
      opsetImport: [{ domain: '', version: opset }, ...otherOpsets].map((o) => onnx.OperatorSetIdProto.create(o)),
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

function tensorProto(t: TensorValue & { readonly name?: string }) {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return onnx.TensorProto.create({ name: t.name ?? '', dataType: DATA_TYPE[t.dtype], dims: [...t.dims], rawData: bytes });
}

function attributeProto(name: string, a: Attr) {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ('float' in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ('ints' in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.ints] });
  if ('floats' in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.floats] });
  if ('string' in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.string) });
  if ('tensor' in a) return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto(a.tensor) });
  return onnx.AttributeProto.create({ name, type: T.GRAPH, g: a.graph.toGraphProto() });
}
