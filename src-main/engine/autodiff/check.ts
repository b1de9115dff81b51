/**
 * Finite-difference checking of gradient graphs on ONNX Runtime (CPU): f(x) = sum(w ⊙ op(x)) with a
 * fixed random w, the graph gradient against (f(x+h) - f(x-h)) / 2h at sampled coordinates.
 */
import { GraphBuilder } from '../onnx/graph.ts';
import { openSession, ort } from '../session.ts';
import { backward } from './backward.ts';
import { lowerComposites } from './composites.ts';
import type { FloatType } from './emit.ts';

export interface CheckedInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** Defaults to uniform values in [-1, 1]. */
  readonly data?: ArrayLike<number>;
  /** Differentiate with respect to it (default true). */
  readonly wrt?: boolean;
}

export interface GradCheckSpec {
  readonly dtype: FloatType;
  readonly inputs: readonly CheckedInput[];
  /** Builds op(x) from the input names and returns its output name. */
  readonly build: (b: GraphBuilder, inputs: readonly string[]) => string;
  readonly opset?: number;
  readonly step?: number;
  /** Coordinates sampled per input (all of them when the input is smaller). */
  readonly samples?: number;
  readonly seed?: number;
}

export interface GradSample {
  readonly input: string;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

/** A small deterministic generator (mulberry32) for repeatable random inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const count = (dims: readonly number[]) => dims.reduce((a, c) => a * c, 1);

export async function checkGradient(spec: GradCheckSpec): Promise<GradSample[]> {
  const { dtype } = spec;
  const opset = spec.opset ?? 17;
  const random = rng(spec.seed ?? 1);
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;
  const tensor = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor(dtype, Arr.from(data) as Float32Array, [...dims]);
  const values = spec.inputs.map((i) => Arr.from(i.data ?? Array.from({ length: count(i.dims) }, () => 2 * random() - 1)));

  const build = (withWeight: readonly number[] | undefined) => {
    const b = new GraphBuilder('gradcheck');
    const names = spec.inputs.map((i) => b.input(i.name, dtype, i.dims));
    const y = spec.build(b, names);
    if (!withWeight) return { b, y };
    const w = b.input('gradcheck_w', dtype, withWeight);
    const loss = b.op('ReduceSum', [b.op('Mul', [y, w])], { keepdims: { int: 0 } }, 'gradcheck_loss');
    return { b, y, loss };
  };
  const feeds = (vals: readonly ArrayLike<number>[]) => Object.fromEntries(spec.inputs.map((i, k) => [i.name, tensor(vals[k]!, i.dims)]));

  const probe = build(undefined);
  probe.b.output(probe.y, dtype);
  lowerComposites(probe.b);
  const probeSession = await openSession(probe.b.toModel(opset), 'cpu');
  const yDims = (await probeSession.run(feeds(values)))[probe.y]!.dims;
  await probeSession.release();

  const { b, loss } = build(yDims);
  const wData = Array.from({ length: count(yDims) }, () => 2 * random() - 1);
  const wrt = spec.inputs.filter((i) => i.wrt !== false).map((i) => i.name);
  const grads = backward(b, loss!, wrt, { dtype, opset });
  b.output(loss!, dtype);
  for (const g of grads.values()) b.output(g, dtype);
  const session = await openSession(b.toModel(opset), 'cpu');
  const run = async (vals: readonly ArrayLike<number>[], outputs: readonly string[]) =>
    session.run({ ...feeds(vals), gradcheck_w: tensor(wData, yDims) }, outputs);

  const analytic = await run(values, [...grads.values()]);
  const h = spec.step ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const samples: GradSample[] = [];
  for (const name of wrt) {
    const k = spec.inputs.findIndex((i) => i.name === name);
    const n = values[k]!.length;
    const picks = n <= (spec.samples ?? 6) ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: spec.samples ?? 6 }, () => Math.floor(random() * n));
    const g = analytic[grads.get(name)!]!.data as Float32Array | Float64Array;
    for (const index of picks) {
      const at = async (delta: number) => {
        const shifted = values.map((v, j) => {
          if (j !== k) return v;
          const copy = Arr.from(v);
          copy[index] = copy[index]! + delta;
          return copy;
        });
        return Number((await run(shifted, [loss!]))[loss!]!.data[0]);
      };
      samples.push({ input: name, index, analytic: g[index]!, numeric: ((await at(h)) - (await at(-h))) / (2 * h) });
    }
  }
  await session.release();
  return samples;
}
