import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { GraphBuilder, ints } from '../../src-main/engine/onnx/graph.ts';
import { importModel, OnnxImportError } from '../../src-main/engine/onnx/importer.ts';
import { f32, openSession, ort, setSessionLogger } from '../../src-main/engine/session.ts';

const { onnx } = onnxProto;
const BACKBONE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'mobilenet_v2_features.onnx');

beforeAll(() => setSessionLogger(() => {}));

function randomImage(n: number, h: number, w: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n * 3 * h * w }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648));
}

describe('importModel()', () => {
  it('re-serialises the MobileNetV2 backbone with identical outputs in ORT', async () => {
    const model = importModel(BACKBONE);
    expect(model.opset).toBe(13);
    expect(model.graph.inputs.map((i) => i.name)).toEqual(['image']);
    expect(model.graph.inputs[0]!.shape).toEqual(['N', 3, 'H', 'W']);
    const original = await openSession(BACKBONE, 'cpu');
    const copy = await openSession(model.graph.toModel(model.opset), 'cpu');
    const image = f32(randomImage(1, 32, 32), [1, 3, 32, 32]);
    const a = await original.run({ image });
    const b = await copy.run({ image });
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) {
      expect(b[k]!.dims).toEqual(a[k]!.dims);
      expect(Array.from(b[k]!.data as Float32Array)).toEqual(Array.from(a[k]!.data as Float32Array));
    }
    await Promise.all([original.release(), copy.release()]);
  });

  it('can be extended with new nodes and outputs whose fresh names never collide with imported ones', async () => {
    const { graph, opset } = importModel(BACKBONE);
    const before = new Set(graph.nodes.flatMap((n) => n.outputs));
    const pooled = graph.op('GlobalAveragePool', ['feat_s8']);
    graph.output(graph.op('Relu', [pooled]), 'float32');
    for (let i = 0; i < 50; i++) expect(before.has(graph.fresh('conv'))).toBe(false);
    const s = await openSession(graph.toModel(opset), 'cpu');
    const out = await s.run({ image: f32(randomImage(1, 32, 32, 7), [1, 3, 32, 32]) });
    const extra = out[graph.outputs.at(-1)!.name]!;
    expect(extra.dims).toEqual([1, 32, 1, 1]);
    await s.release();
  });

  it('reads float_data, int64_data, typed attributes and Constant tensors', async () => {
    const T = onnx.AttributeProto.AttributeType;
    const model = onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }, { dimValue: 3 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
        initializer: [
          { name: 'w', dataType: 1, dims: [3], floatData: [1, 2, 3] },
          { name: 'shape', dataType: 7, dims: [1], int64Data: [6] },
        ],
        node: [
          { opType: 'Constant', input: [], output: ['k'], attribute: [{ name: 'value', type: T.TENSOR, t: { dataType: 1, dims: [], floatData: [0.5] } }] },
          { opType: 'Mul', input: ['x', 'w'], output: ['m'] },
          { opType: 'LeakyRelu', input: ['m'], output: ['l'], attribute: [{ name: 'alpha', type: T.FLOAT, f: 0.25 }] },
          { opType: 'Mul', input: ['l', 'k'], output: ['lk'] },
          { opType: 'Reshape', input: ['lk', 'shape'], output: ['y'] },
        ],
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    const { graph, opset } = importModel(bytes);
    expect(graph.initializers.find((i) => i.name === 'shape')!.data).toEqual(BigInt64Array.from([6n]));
    expect(graph.nodes[2]!.attrs['alpha']).toEqual({ float: 0.25 });
    const s = await openSession(graph.toModel(opset), 'cpu');
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -1, 2, -2, 3, -3]), [2, 3]) });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual([0.5, -0.25, 3, -0.25, 3, -1.125]);
    await s.release();
  });

  it('keeps ints attributes as numbers', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [1, 1, 4, 4]);
    b.output(b.op('MaxPool', ['x'], { kernel_shape: ints([2, 2]) }), 'float32');
    const { graph } = importModel(b.toModel());
    expect(graph.nodes[0]!.attrs['kernel_shape']).toEqual({ ints: [2, 2] });
  });

  it('throws OnnxImportError for a model without a graph', () => {
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7 })).finish();
    expect(() => importModel(bytes)).toThrow(OnnxImportError);
  });
});
