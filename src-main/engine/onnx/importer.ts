/**
 * Reads an existing ONNX model (a backbone) into the GraphBuilder form, so it can be extended with new
 * nodes and outputs (for example gradient nodes) and serialised again with `toModel(model.opset)`.
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { type Attr, type DType, type Dim, GraphBuilder, type OpsetId, ONNX_DATA_TYPE, type TensorData, type TensorValue } from './graph.ts';

const { onnx } = onnxProto;
type GraphProto = onnxProto.onnx.IGraphProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export interface ImportedModel {
  readonly graph: GraphBuilder;
  /** The default-domain opset; pass it to `graph.toModel(opset, otherOpsets)`. */
  readonly opset: number;
  readonly otherOpsets: readonly OpsetId[];
}

export class OnnxImportError extends Error {
  readonly code = 'ONNX_IMPORT';
}

const DTYPE_OF_CODE = new Map<number, DType>(Object.entries(ONNX_DATA_TYPE).map(([k, v]) => [v, k as DType]));

/** Imports a model from its bytes or from a file path. */
export function importModel(model: Uint8Array | string): ImportedModel {
  const bytes = typeof model === 'string' ? readFileSync(model) : model;
  const proto = onnx.ModelProto.decode(bytes);
  if (!proto.graph) throw new OnnxImportError('model has no graph');
  let opset: number | undefined;
  const otherOpsets: OpsetId[] = [];
  for (const o of proto.opsetImport) {
    const version = toNumber(o.version);
    if (!o.domain || o.domain === 'ai.onnx') opset = version;
    else otherOpsets.push({ domain: o.domain, version });
  }
  if (opset === undefined) throw new OnnxImportError('model imports no default-domain opset');
  return { graph: importGraph(proto.graph), opset, otherOpsets };
}

/**
 * Imports one graph. Graph inputs that are also initialisers (older exporters list weights as inputs)
 * become plain initialisers.
 */
export function importGraph(g: GraphProto): GraphBuilder {
  const b = new GraphBuilder(g.name || 'imported');
  const initNames = new Set<string>();
  for (const t of g.initializer ?? []) {
    const v = tensorValue(t);
    b.initializer(t.name ?? '', v.dtype, v.dims, v.data);
    initNames.add(t.name ?? '');
  }
  for (const vi of g.input ?? []) {
    if (initNames.has(vi.name ?? '')) continue;
    const { dtype, shape } = valueType(vi);
    b.input(vi.name ?? '', dtype, shape);
  }
  for (const n of g.node ?? []) {
    const attrs: Record<string, Attr> = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = attribute(a);
    b.node(n.opType ?? '', [...(n.input ?? [])], attrs, [...(n.output ?? [])], n.domain ?? '');
  }
  for (const vi of g.output ?? []) {
    const { dtype, shape } = valueType(vi);
    b.output(vi.name ?? '', dtype, shape);
  }
  return b;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(String(v));
}

function dtypeOf(code: number, what: string): DType {
  const d = DTYPE_OF_CODE.get(code);
  if (!d) throw new OnnxImportError(`${what}: unsupported ONNX data type ${code}`);
  return d;
}

function valueType(vi: ValueInfoProto): { dtype: DType; shape: Dim[] | undefined } {
  const tt = vi.type?.tensorType;
  if (!tt) throw new OnnxImportError(`value '${vi.name}' is not a tensor`);
  const dtype = dtypeOf(tt.elemType ?? 0, `value '${vi.name}'`);
  const shape = tt.shape ? (tt.shape.dim ?? []).map((d, i): Dim => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : `${vi.name}_d${i}`)) : undefined;
  return { dtype, shape };
}

/** A typed array from `rawData` (little-endian, possibly unaligned) or from the typed repeated fields. */
export function tensorValue(t: TensorProto): TensorValue {
  const dtype = dtypeOf(t.dataType ?? 0, `tensor '${t.name}'`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) throw new OnnxImportError(`tensor '${t.name}': external data is not supported`);
  const dims = (t.dims ?? []).map(toNumber);
  const raw = t.rawData && t.rawData.length > 0 ? new Uint8Array(t.rawData).buffer : undefined; // a copy: Buffer.slice would share the file buffer
  let data: TensorData;
  switch (dtype) {
    case 'float32':
      data = raw ? new Float32Array(raw) : Float32Array.from(t.floatData ?? []);
      break;
    case 'float64':
      data = raw ? new Float64Array(raw) : Float64Array.from(t.doubleData ?? []);
      break;
    case 'int64':
      data = raw ? new BigInt64Array(raw) : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(String(v))));
      break;
    case 'int32':
      data = raw ? new Int32Array(raw) : Int32Array.from(t.int32Data ?? []);
      break;
    case 'int8':
      data = raw ? new Int8Array(raw) : Int8Array.from(t.int32Data ?? []);
      break;
    case 'uint8':
    case 'bool':
      data = raw ? new Uint8Array(raw) : Uint8Array.from(t.int32Data ?? []);
      break;
  }
  return { dtype, dims, data };
}

function attribute(a: AttributeProto): Attr {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { int: toNumber(a.i) };
    case T.FLOAT:
      return { float: a.f ?? 0 };
    case T.INTS:
      return { ints: (a.ints ?? []).map(toNumber) };
    case T.FLOATS:
      return { floats: [...(a.floats ?? [])] };
    case T.STRING:
      return { string: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case T.TENSOR:
      if (!a.t) break;
      return { tensor: tensorValue(a.t) };
    case T.GRAPH:
      if (!a.g) break;
      return { graph: importGraph(a.g) };
  }
  throw new OnnxImportError(`attribute '${a.name}': unsupported attribute type ${a.type}`);
}
