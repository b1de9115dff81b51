/**
 * The PFM / PEFM mapping networks (METHODS.md §2.3, §3.1) as ONNX graphs over feature rows: a 1×1
 * convolution on an [n, C, H, W] map is a matrix product on its [n·H·W, C] rows, which is how every
 * graph here holds features (row = one grid position of one image, L2-normalised over C).
 *
 * Per level: enc_S = CBR(Cs → Cs//2+d), CBR(→ 2d); shared = C(2d → d), used by both directions;
 * dec_T = CBR(d → 2d), CBR(→ Ct//2+d), C(→ Ct); enc_T and dec_S mirror them (CBR = conv → BatchNorm → ReLU).
 *  - the training model (engine/training): BatchNorm with batch statistics over all rows (BatchNorm2d's
 *    N·H·W), running statistics (momentum, unbiased variance) as buffers, loss per level
 *    mean((S−Ŝ)²) + mean((T−T̂)²) summed over levels, one Adam per level (disjoint parameters, so the
 *    summed loss gives each level exactly its own gradient);
 *  - the scoring graph: BatchNorm in inference mode folded into the convolutions, per level the map
 *    e = Σ_c (x − x̂)² averaged over the directions used.
 */
import { GraphBuilder, int } from '../../engine/onnx/graph.ts';
import { int8MatMul, type Precision } from '../../engine/onnx/quantise.ts';
import { batchNormRelu, lowerComposites } from '../../engine/autodiff/index.ts';
import { adam } from '../../engine/optim/index.ts';
import type { NamedTensor, ParamDecl, ParamGroup, TrainableModel } from '../../engine/training/index.ts';
import { Random } from '../../util/random.ts';
import type { PfmDirection, PfmNormalise } from './defaults.ts';
import { positionEncodingRows } from '../../features/position-encoding.ts';

/** One level's geometry: channel counts, latent size and feature grid. */
export interface LevelSpec {
  /** 1-based level number (names its tensors). */
  readonly level: number;
  readonly cs: number;
  readonly ct: number;
  readonly d: number;
  readonly gridH: number;
  readonly gridW: number;
}

/** Everything the graphs depend on besides the weights. */
export interface MappingSpec {
  readonly levels: readonly LevelSpec[];
  readonly direction: PfmDirection;
  readonly positionEncoding: boolean;
  /** 'variance': squared errors divided by their training mean per channel and position (statisticDims). */
  readonly normalise: PfmNormalise;
  readonly bnEps: number;
  readonly bnMomentum: number;
  /** Adam learning rate per entry of `levels`. */
  readonly lr: readonly number[];
  readonly weightDecay: number;
}

export interface LayerSpec {
  /** e.g. 'l1.enc_s.0' */
  readonly name: string;
  readonly inC: number;
  readonly outC: number;
  /** CBR (conv → BatchNorm → ReLU) or a plain conv. */
  readonly bn: boolean;
}

export type Branch = 'enc_s' | 'shared' | 'dec_t' | 'enc_t' | 'dec_s';

/** The layers of each branch of a level, in order. */
export function branchLayers(l: LevelSpec): Record<Branch, LayerSpec[]> {
  const { cs, ct, d } = l;
  const chain = (branch: Branch, widths: readonly number[], lastPlain: boolean): LayerSpec[] =>
    widths.slice(1).map((outC, i) => ({ name: `l${l.level}.${branch}.${i}`, inC: widths[i]!, outC, bn: !(lastPlain && i === widths.length - 2) }));
  return {
    enc_s: chain('enc_s', [cs, Math.floor(cs / 2) + d, 2 * d], false),
    shared: chain('shared', [2 * d, d], true),
    dec_t: chain('dec_t', [d, 2 * d, Math.floor(ct / 2) + d, ct], true),
    enc_t: chain('enc_t', [ct, Math.floor(ct / 2) + d, 2 * d], false),
    dec_s: chain('dec_s', [d, 2 * d, Math.floor(cs / 2) + d, cs], true),
  };
}

/** The branches a direction uses: S→T needs enc_S, shared, dec_T; T→S enc_T, shared, dec_S. */
export function branchesOf(direction: PfmDirection): Branch[] {
  if (direction === 's2t') return ['enc_s', 'shared', 'dec_t'];
  if (direction === 't2s') return ['enc_t', 'shared', 'dec_s'];
  return ['enc_s', 'shared', 'dec_t', 'enc_t', 'dec_s'];
}

export function levelLayers(l: LevelSpec, direction: PfmDirection): LayerSpec[] {
  const all = branchLayers(l);
  return branchesOf(direction).flatMap((b) => all[b]);
}

export const W = (layer: string) => `${layer}.weight`;
export const B = (layer: string) => `${layer}.bias`;
export const BN_W = (layer: string) => `${layer}.bn.weight`;
export const BN_B = (layer: string) => `${layer}.bn.bias`;
export const BN_MEAN = (layer: string) => `${layer}.bn.running_mean`;
export const BN_VAR = (layer: string) => `${layer}.bn.running_var`;

/** The training-error statistic of a level and side ('s' divides e_S, 't' e_T): [H·W, C]. */
export const VARIANCE = (level: number, side: 's' | 't') => `l${level}.var_${side}`;

/** The statistic tensors of spec.normalise 'variance' (none otherwise), for the directions used. */
export function statisticDims(spec: MappingSpec): { name: string; dims: number[]; level: number; side: 's' | 't' }[] {
  if (spec.normalise !== 'variance') return [];
  return spec.levels.flatMap((l) => [
    ...(spec.direction !== 't2s' ? [{ name: VARIANCE(l.level, 't'), dims: [l.gridH * l.gridW, l.ct], level: l.level, side: 't' as const }] : []),
    ...(spec.direction !== 's2t' ? [{ name: VARIANCE(l.level, 's'), dims: [l.gridH * l.gridW, l.cs], level: l.level, side: 's' as const }] : []),
  ]);
}

/** Feed names of a level's normalised features ([rows, C]). */
export const sourceFeed = (level: number) => `s${level}`;
export const targetFeed = (level: number) => `t${level}`;
/** Output name of a level's map in the scoring graph ([rows]). */
export const errorOutput = (level: number) => `e${level}`;
/** Output names of the per-element squared errors ([rows, C]) in a `squaredErrors` scoring graph. */
export const squaredOutput = (level: number, side: 's' | 't') => `q${side}${level}`;

/** Trained parameters (conv weight [out, in] and bias, BatchNorm γ, β) with the level's group. */
export function parameterDims(spec: MappingSpec): { name: string; dims: number[]; level: number; kind: 'weight' | 'bias' | 'gamma' | 'beta' }[] {
  return spec.levels.flatMap((l) =>
    levelLayers(l, spec.direction).flatMap((y) => [
      { name: W(y.name), dims: [y.outC, y.inC], level: l.level, kind: 'weight' as const },
      { name: B(y.name), dims: [y.outC], level: l.level, kind: 'bias' as const },
      ...(y.bn ? [{ name: BN_W(y.name), dims: [y.outC], level: l.level, kind: 'gamma' as const }, { name: BN_B(y.name), dims: [y.outC], level: l.level, kind: 'beta' as const }] : []),
    ]),
  );
}

/** BatchNorm running statistics (buffers). */
export function bufferDims(spec: MappingSpec): { name: string; dims: number[]; kind: 'mean' | 'var' }[] {
  return spec.levels.flatMap((l) =>
    levelLayers(l, spec.direction).filter((y) => y.bn).flatMap((y) => [
      { name: BN_MEAN(y.name), dims: [y.outC], kind: 'mean' as const },
      { name: BN_VAR(y.name), dims: [y.outC], kind: 'var' as const },
    ]),
  );
}

/**
 * PyTorch's initialisation of Conv2d (kaiming_uniform with a = √5: weight and bias uniform in
 * ±1/√fan_in) and BatchNorm2d (γ = 1, β = 0, running mean 0, running variance 1), drawn from `seed`.
 */
export function initialWeights(spec: MappingSpec, seed: number): Map<string, NamedTensor> {
  const rng = new Random(seed);
  const out = new Map<string, NamedTensor>();
  const dimsOf = new Map(parameterDims(spec).map((p) => [p.name, p.dims]));
  for (const l of spec.levels) {
    for (const y of levelLayers(l, spec.direction)) {
      const bound = 1 / Math.sqrt(y.inC);
      const uniform = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-bound, bound));
      out.set(W(y.name), { dims: dimsOf.get(W(y.name))!, data: uniform(y.outC * y.inC) });
      out.set(B(y.name), { dims: [y.outC], data: uniform(y.outC) });
      if (y.bn) {
        out.set(BN_W(y.name), { dims: [y.outC], data: new Float32Array(y.outC).fill(1) });
        out.set(BN_B(y.name), { dims: [y.outC], data: new Float32Array(y.outC) });
        out.set(BN_MEAN(y.name), { dims: [y.outC], data: new Float32Array(y.outC) });
        out.set(BN_VAR(y.name), { dims: [y.outC], data: new Float32Array(y.outC).fill(1) });
      }
    }
  }
  return out;
}

/** rows [n·H·W, C] + PE(C, H, W) broadcast over the n images (PEFM's mapping input). */
function withPosition(b: GraphBuilder, rows: string, channels: number, l: LevelSpec): string {
  const pe = b.initializer(b.fresh(`pe${l.level}_${channels}`), 'float32', [l.gridH * l.gridW, channels], positionEncodingRows(channels, l.gridH, l.gridW));
  const grid = b.op('Reshape', [rows, b.constI64([-1, l.gridH * l.gridW, channels])]);
  return b.op('Reshape', [b.op('Add', [grid, pe]), b.constI64([-1, channels])]);
}

export const groupName = (level: number) => `level${level}`;

/**
 * The training model. Feeds `s<l>` [rows, Cs] and `t<l>` [rows, Ct] per level (normalised features,
 * the same rows in both); metrics `loss_l<l>` per level.
 */
export function trainingModel(spec: MappingSpec, weights: ReadonlyMap<string, NamedTensor>): TrainableModel {
  const params: ParamDecl[] = parameterDims(spec).map((p) => ({ name: p.name, dims: p.dims, init: weights.get(p.name)!.data, group: groupName(p.level) }));
  const groups: ParamGroup[] = spec.levels.map((l, i) => ({ name: groupName(l.level), optimizer: adam(), hyper: { lr: spec.lr[i]!, weight_decay: spec.weightDecay } }));
  const tag = spec.levels.map((l) => `l${l.level}c${l.cs}x${l.ct}d${l.d}`).join('_');
  return {
    name: `pfm_${spec.direction}${spec.positionEncoding ? '_pe' : ''}_${tag}`,
    params,
    buffers: bufferDims(spec).map((x) => ({ name: x.name, dims: x.dims, init: weights.get(x.name)!.data })),
    feeds: spec.levels.flatMap((l) => [
      { name: sourceFeed(l.level), dtype: 'float32' as const, shape: [`rows${l.level}`, l.cs] },
      { name: targetFeed(l.level), dtype: 'float32' as const, shape: [`rows${l.level}`, l.ct] },
    ]),
    groups,
    forward(b: GraphBuilder) {
      const k = (v: number) => b.constF32([v], []);
      const buffers: Record<string, string> = {};
      const metrics: Record<string, string> = {};
      // the row count, from a feed: sizes taken from tensors that depend on parameters would count as
      // differentiable for autodiff (it has no rule for Shape → Cast)
      let rows = '';
      const layer = (x: string, y: LayerSpec): string => {
        const h = b.op('Gemm', [x, W(y.name), B(y.name)], { transB: int(1) });
        if (!y.bn) return h;
        // one composite node: autodiff takes its fused gradient instead of differentiating each op
        const { y: out, mean, variance } = batchNormRelu(b, h, BN_W(y.name), BN_B(y.name), spec.bnEps);
        // running statistics as PyTorch: momentum m, unbiased variance
        const unbias = b.op('Div', [rows, b.op('Sub', [rows, k(1)])]);
        const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
        const ema = (run: string, batch: string) => b.op('Add', [b.op('Mul', [run, k(1 - spec.bnMomentum)]), b.op('Mul', [batch, k(spec.bnMomentum)])]);
        buffers[BN_MEAN(y.name)] = ema(BN_MEAN(y.name), flat(mean));
        buffers[BN_VAR(y.name)] = ema(BN_VAR(y.name), b.op('Mul', [flat(variance), unbias]));
        return out;
      };
      const run = (x: string, layers: readonly LayerSpec[]) => layers.reduce(layer, x);
      const mse = (pred: string, target: string) => {
        const diff = b.op('Sub', [pred, target]);
        const size = b.op('Cast', [b.op('Size', [target])], { to: int(1) });
        return b.op('Div', [b.op('ReduceSumSquare', [diff], { keepdims: int(0) }), size]);
      };
      const losses: string[] = [];
      for (const l of spec.levels) {
        const br = branchLayers(l);
        const [s, t] = [sourceFeed(l.level), targetFeed(l.level)];
        rows = b.op('Cast', [b.op('Gather', [b.op('Shape', [s]), b.constI64([0], [])], { axis: int(0) })], { to: int(1) });
        const terms: string[] = [];
        if (spec.direction !== 't2s') {
          const input = spec.positionEncoding ? withPosition(b, s, l.cs, l) : s;
          terms.push(mse(run(run(run(input, br.enc_s), br.shared), br.dec_t), t));
        }
        if (spec.direction !== 's2t') {
          const input = spec.positionEncoding ? withPosition(b, t, l.ct, l) : t;
          terms.push(mse(run(run(run(input, br.enc_t), br.shared), br.dec_s), s));
        }
        const levelLoss = terms.length === 1 ? terms[0]! : b.op('Add', terms);
        metrics[`loss_l${l.level}`] = levelLoss;
        losses.push(levelLoss);
      }
      const loss = losses.length === 1 ? b.op('Identity', [losses[0]!]) : losses.slice(1).reduce((a, x) => b.op('Add', [a, x]), losses[0]!);
      return { loss, buffers, metrics };
    },
  };
}

/** Output name of a BatchNorm buffer's batch value in the batch-statistics graph. */
export const batchStatisticOutput = (buffer: string) => `${buffer}:batch`;

/**
 * Forward-only graph of the training model with fixed weights: per BatchNorm layer the batch mean and
 * the unbiased batch variance of its input (`<running buffer>:batch`), each layer normalised by its own
 * batch statistics as in training. Averaged over the training batches after the last step, these are
 * the statistics the running averages chase, without the lag of a momentum average behind weights
 * that were still moving (bnStatistics 'precise').
 */
export function buildBatchStatisticsGraph(spec: MappingSpec, weights: ReadonlyMap<string, NamedTensor>): Uint8Array {
  // momentum 1: the "new running value" is the batch's own
  const model = trainingModel({ ...spec, bnMomentum: 1 }, weights);
  const b = new GraphBuilder('pfm_batch_statistics');
  for (const p of model.params) b.initializer(p.name, 'float32', p.dims, weights.get(p.name)!.data);
  for (const x of model.buffers ?? []) b.initializer(x.name, 'float32', x.dims, weights.get(x.name)!.data);
  for (const f of model.feeds) b.input(f.name, f.dtype, f.shape);
  const fwd = model.forward(b);
  for (const x of model.buffers ?? []) {
    b.op('Identity', [fwd.buffers![x.name]!], {}, batchStatisticOutput(x.name));
    b.output(batchStatisticOutput(x.name), 'float32', x.dims);
  }
  lowerComposites(b);
  return b.toModel(model.opset ?? 17);
}

/** A layer with inference-mode BatchNorm folded in: weight [in, out] (MatMul layout) and bias [out]. */
export interface FoldedLayer {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly relu: boolean;
  readonly inC: number;
  readonly outC: number;
}

/** BN(W x + b) = s ⊙ (W x + b − μ) + β with s = γ / sqrt(σ² + eps), transposed to [in, out]. */
export function foldLayer(y: LayerSpec, w: ReadonlyMap<string, NamedTensor>, eps: number): FoldedLayer {
  const get = (n: string) => w.get(n)!.data;
  const [Wt, bias] = [get(W(y.name)), get(B(y.name))];
  const weight = new Float32Array(y.inC * y.outC);
  const folded = new Float32Array(y.outC);
  for (let o = 0; o < y.outC; o++) {
    let s = 1;
    let shift = bias[o]!;
    if (y.bn) {
      s = get(BN_W(y.name))[o]! / Math.sqrt(get(BN_VAR(y.name))[o]! + eps);
      shift = s * (bias[o]! - get(BN_MEAN(y.name))[o]!) + get(BN_B(y.name))[o]!;
    }
    for (let i = 0; i < y.inC; i++) weight[i * y.outC + o] = Wt[o * y.inC + i]! * s;
    folded[o] = shift;
  }
  return { weight, bias: folded, relu: y.bn, inC: y.inC, outC: y.outC };
}

/**
 * Scoring graph: feeds `s<l>` [rows, Cs], `t<l>` [rows, Ct]; outputs `e<l>` [rows], the level's map
 * (e_S + e_T)/2 with e = Σ_c (x − x̂)² (one direction: its e alone), each (x − x̂)² divided by the
 * level's statistic under normalise 'variance'. `unfolded` keeps the inference-mode BatchNorm as
 * explicit ops after each convolution (what folding must reproduce; used by the tests).
 * `squaredErrors` outputs instead the unscaled (x − x̂)² per element, `q<side><l>` [rows, C], from which
 * the statistic is measured. `precision` 'int8' runs the folded layers as int8 products (quantise.ts).
 */
export function buildScoringGraph(spec: MappingSpec, w: ReadonlyMap<string, NamedTensor>, options: { unfolded?: boolean; squaredErrors?: boolean; precision?: Precision } = {}): Uint8Array {
  const g = new GraphBuilder('pfm_score');
  const squared = (pred: string, target: string) => {
    const diff = g.op('Sub', [pred, target]);
    return g.op('Mul', [diff, diff]);
  };
  const channelSum = (q: string, l: LevelSpec, side: 's' | 't') => {
    if (spec.normalise !== 'variance') return g.op('ReduceSum', [q, g.constI64([1])], { keepdims: int(0) });
    const channels = side === 's' ? l.cs : l.ct;
    const v = w.get(VARIANCE(l.level, side));
    if (!v) throw new RangeError(`level ${l.level}: the model has no training-error statistic ${VARIANCE(l.level, side)}`);
    const grid = g.op('Reshape', [q, g.constI64([-1, l.gridH * l.gridW, channels])]);
    const scaled = g.op('Div', [grid, g.initializer(g.fresh('var'), 'float32', [l.gridH * l.gridW, channels], v.data)]);
    return g.op('Reshape', [g.op('ReduceSum', [scaled, g.constI64([2])], { keepdims: int(0) }), g.constI64([-1])]);
  };
  const layer = (x: string, y: LayerSpec): string => {
    if (options.unfolded) {
      const get = (n: string) => w.get(n)!.data;
      const h = g.op('Gemm', [x, g.initializer(g.fresh('w'), 'float32', [y.outC, y.inC], get(W(y.name))), g.initializer(g.fresh('b'), 'float32', [y.outC], get(B(y.name)))], { transB: int(1) });
      if (!y.bn) return h;
      const c = (n: string) => g.initializer(g.fresh('bn'), 'float32', [y.outC], get(n));
      const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [c(BN_VAR(y.name)), g.constF32([spec.bnEps], [])])])]);
      const bn = g.op('Add', [g.op('Mul', [g.op('Mul', [g.op('Sub', [h, c(BN_MEAN(y.name))]), inv]), c(BN_W(y.name))]), c(BN_B(y.name))]);
      return g.op('Relu', [bn]);
    }
    const f = foldLayer(y, w, spec.bnEps);
    if (options.precision === 'int8') {
      const h = int8MatMul(g, x, f.weight, f.bias, f.inC, f.outC);
      return f.relu ? g.op('Relu', [h]) : h;
    }
    const h = g.op('Gemm', [x, g.initializer(g.fresh('w'), 'float32', [f.inC, f.outC], f.weight), g.initializer(g.fresh('b'), 'float32', [f.outC], f.bias)]);
    return f.relu ? g.op('Relu', [h]) : h;
  };
  const run = (x: string, layers: readonly LayerSpec[]) => layers.reduce(layer, x);
  for (const l of spec.levels) {
    const br = branchLayers(l);
    const s = g.input(sourceFeed(l.level), 'float32', [`rows${l.level}`, l.cs]);
    const t = g.input(targetFeed(l.level), 'float32', [`rows${l.level}`, l.ct]);
    const sides: { side: 's' | 't'; q: string; channels: number }[] = [];
    if (spec.direction !== 't2s') sides.push({ side: 't', channels: l.ct, q: squared(run(run(run(spec.positionEncoding ? withPosition(g, s, l.cs, l) : s, br.enc_s), br.shared), br.dec_t), t) });
    if (spec.direction !== 's2t') sides.push({ side: 's', channels: l.cs, q: squared(run(run(run(spec.positionEncoding ? withPosition(g, t, l.ct, l) : t, br.enc_t), br.shared), br.dec_s), s) });
    if (options.squaredErrors) {
      for (const x of sides) {
        g.op('Identity', [x.q], {}, squaredOutput(l.level, x.side));
        g.output(squaredOutput(l.level, x.side), 'float32', [`rows${l.level}`, x.channels]);
      }
      continue;
    }
    const parts = sides.map((x) => channelSum(x.q, l, x.side));
    const e = parts.length === 1 ? parts[0]! : g.op('Mul', [g.op('Add', parts), g.constF32([0.5], [])]);
    g.op('Identity', [e], {}, errorOutput(l.level));
    g.output(errorOutput(l.level), 'float32', [`rows${l.level}`]);
  }
  return g.toModel(17);
}
