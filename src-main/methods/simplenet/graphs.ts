/**
 * SimpleNet's networks as ONNX graphs (METHODS.md §4.3–4.7):
 *  - the training model for engine/training: feature adaptor (Linear D→D), Gaussian-noise fake features,
 *    discriminator Linear(D→H) → BatchNorm1d (batch statistics) → LeakyReLU → Linear(H→1, no bias) on
 *    true and fake features together, truncated L1 loss; BatchNorm running statistics as buffers;
 *  - the scoring graph: −D(adaptor(q)) with BatchNorm in inference mode. The adaptor and the BatchNorm
 *    are affine, so they are folded into the discriminator's first layer (exact in real arithmetic).
 */
import { float, GraphBuilder, int, ints } from '../../engine/onnx/graph.ts';
import { matmul } from '../../engine/linalg.ts';
import { adam, adamw } from '../../engine/optim/index.ts';
import type { NamedTensor, ParamDecl, TrainableModel } from '../../engine/training/index.ts';
import { Random } from '../../util/random.ts';
import type { SimpleNetConfig } from './defaults.ts';

export const P = {
  adaptorW: 'adaptor.weight',
  adaptorB: 'adaptor.bias',
  fc1W: 'dsc.fc1.weight',
  fc1B: 'dsc.fc1.bias',
  bnW: 'dsc.bn.weight',
  bnB: 'dsc.bn.bias',
  tailW: 'dsc.tail.weight',
  runMean: 'dsc.bn.running_mean',
  runVar: 'dsc.bn.running_var',
} as const;

/** PyTorch layouts: Linear weights are [out, in]. */
export function initialWeights(c: SimpleNetConfig): Map<string, NamedTensor> {
  const rng = new Random(c.seed);
  const D = c.targetDim;
  const H = c.hidden;
  const xavier = (out: number, inp: number) => {
    const std = Math.sqrt(2 / (inp + out));
    return Float32Array.from({ length: out * inp }, () => std * rng.normal());
  };
  const bias = (out: number, inp: number) => Float32Array.from({ length: out }, () => rng.uniform(-1, 1) / Math.sqrt(inp));
  return new Map<string, NamedTensor>([
    [P.adaptorW, { dims: [D, D], data: xavier(D, D) }],
    [P.adaptorB, { dims: [D], data: bias(D, D) }],
    [P.fc1W, { dims: [H, D], data: xavier(H, D) }],
    [P.fc1B, { dims: [H], data: bias(H, D) }],
    [P.bnW, { dims: [H], data: new Float32Array(H).fill(1) }],
    [P.bnB, { dims: [H], data: new Float32Array(H) }],
    [P.tailW, { dims: [1, H], data: xavier(1, H) }],
    [P.runMean, { dims: [H], data: new Float32Array(H) }],
    [P.runVar, { dims: [H], data: new Float32Array(H).fill(1) }],
  ]);
}

const GROUP: Record<string, string> = {
  [P.adaptorW]: 'adaptor', [P.adaptorB]: 'adaptor',
  [P.fc1W]: 'dsc', [P.fc1B]: 'dsc', [P.bnW]: 'dsc', [P.bnB]: 'dsc', [P.tailW]: 'dsc',
};

/**
 * Feeds: `features` [n, D] (adapted in the graph) and `noise` [n, D] (already scaled by σ). Metrics:
 * p_true / p_fake, the fractions of true (fake) features beyond the margin, as the official code logs.
 */
export function trainingModel(c: SimpleNetConfig, weights: ReadonlyMap<string, NamedTensor>): TrainableModel {
  const D = c.targetDim;
  const params: ParamDecl[] = Object.keys(GROUP).map((name) => ({ name, dims: weights.get(name)!.dims, init: weights.get(name)!.data, group: GROUP[name]! }));
  return {
    name: `simplenet_d${D}_h${c.hidden}`,
    params,
    buffers: [P.runMean, P.runVar].map((name) => ({ name, dims: weights.get(name)!.dims, init: weights.get(name)!.data })),
    feeds: [{ name: 'features', dtype: 'float32', shape: ['n', D] }, { name: 'noise', dtype: 'float32', shape: ['n', D] }],
    groups: [
      { name: 'adaptor', optimizer: adamw(), hyper: { lr: c.adaptorLr, weight_decay: c.adaptorWeightDecay } },
      { name: 'dsc', optimizer: adam(), hyper: { lr: c.dscLr, weight_decay: c.dscWeightDecay } },
    ],
    forward(b: GraphBuilder) {
      const k = (v: number) => b.constF32([v], []);
      // The discriminator's first layer on [q; q + ε] with q = Wa x + ba, re-associated (same values in
      // real arithmetic, far fewer FLOPs):
      //  - W1·[q; q + ε] = [W1 q; W1 q + W1 ε]: the adaptor's gradient is then (∂h_true + ∂h_fake)·W1
      //    over n rows instead of a 2n-row product followed by a sum;
      //  - W1 q = (W1 Wa) x + W1 ba: the product W1 Wa (H·D² MACs) costs less than Wa x (n·D²) for the
      //    n = 8·1024 rows of a 256-px step, and its gradient rules give ∂W1 and ∂Wa from one n-row
      //    product G = ∂hᵀx (∂W1 = G Waᵀ, ∂Wa = W1ᵀ G).
      // Per step 4·n·D·H + 3·H·D² MACs instead of 6·n·D·H + 2·n·D² (official formulation).
      // Biases: W1 ba + b1 shifts every row of both halves alike, and BatchNorm in training mode removes
      // any per-channel shift, so they change no score and get no gradient (PyTorch's are zero up to
      // rounding); they enter the running mean only, where inference-mode BatchNorm needs them.
      const fused = b.op('Gemm', [P.fc1W, P.adaptorW]);
      const hq = b.op('Gemm', ['features', fused], { transB: int(1) });
      const hNoise = b.op('Gemm', ['noise', P.fc1W], { transB: int(1) });
      const h = b.op('Concat', [hq, b.op('Add', [hq, hNoise])], { axis: int(0) });
      const shift = b.op('Add', [b.op('Gemm', [b.op('Unsqueeze', [P.adaptorB, b.constI64([0])]), P.fc1W], { transB: int(1) }), P.fc1B]);
      // BatchNorm1d in training mode: batch mean and (biased) variance over all 2n rows, applied as one
      // per-channel scale γ/sqrt(σ² + eps) and offset β
      const mean = b.op('ReduceMean', [h], { axes: ints([0]), keepdims: int(1) });
      const centred = b.op('Sub', [h, mean]);
      const variance = b.op('ReduceMean', [b.op('Mul', [centred, centred])], { axes: ints([0]), keepdims: int(1) });
      const scale = b.op('Mul', [P.bnW, b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, k(c.bnEps)])])])]);
      const bn = b.op('Add', [b.op('Mul', [centred, scale]), P.bnB]);
      const act = b.op('LeakyRelu', [bn], { alpha: float(c.leakySlope) });
      const scores = b.op('Reshape', [b.op('Gemm', [act, P.tailW], { transB: int(1) }), b.constI64([2, -1])]);
      // truncated L1: row 0 (true) max(0, m − s), row 1 (fake) max(0, s + m); mean per row, summed
      const signs = b.constF32([-1, 1], [2, 1]);
      const hinge = b.op('Relu', [b.op('Add', [b.op('Mul', [scores, signs]), k(c.margin)])]);
      const loss = b.op('ReduceSum', [b.op('ReduceMean', [hinge], { axes: ints([1]), keepdims: int(0) })], { keepdims: int(0) });

      // running statistics as PyTorch: momentum m, unbiased variance
      const rows = b.op('Cast', [b.op('Gather', [b.op('Shape', [h]), b.constI64([0], [])], { axis: int(0) })], { to: int(1) });
      const unbias = b.op('Div', [rows, b.op('Sub', [rows, k(1)])]);
      const flat = (t: string) => b.op('Reshape', [t, b.constI64([-1])]);
      const ema = (run: string, batch: string) => b.op('Add', [b.op('Mul', [run, k(1 - c.bnMomentum)]), b.op('Mul', [batch, k(c.bnMomentum)])]);
      const runMean = ema(P.runMean, flat(b.op('Add', [mean, shift])));
      const runVar = ema(P.runVar, b.op('Mul', [flat(variance), unbias]));

      const row = (i: number) => b.op('Gather', [scores, b.constI64([i], [])], { axis: int(0) });
      const fraction = (t: string) => b.op('ReduceMean', [b.op('Cast', [t], { to: int(1) })], { keepdims: int(0) });
      const pTrue = fraction(b.op('Not', [b.op('Less', [row(0), k(c.margin)])]));
      const pFake = fraction(b.op('Less', [row(1), k(-c.margin)]));
      return { loss, buffers: { [P.runMean]: runMean, [P.runVar]: runVar }, metrics: { p_true: pTrue, p_fake: pFake } };
    },
  };
}

/**
 * Folds adaptor and inference-mode BatchNorm into the first discriminator layer:
 * BN(W1(Wa q + ba) + b1) = s ⊙ (W1 Wa q + W1 ba + b1 − μ) + β with s = γ / sqrt(σ² + eps).
 * Returns the folded weight as [D, H] (MatMul layout) and bias [H].
 */
export async function foldScorer(c: SimpleNetConfig, w: ReadonlyMap<string, NamedTensor>): Promise<{ weight: Float32Array; bias: Float32Array }> {
  const D = c.targetDim;
  const H = c.hidden;
  const get = (n: string) => w.get(n)!.data;
  const [Wa, ba, W1, b1, gamma, beta, mu, v] = [get(P.adaptorW), get(P.adaptorB), get(P.fc1W), get(P.fc1B), get(P.bnW), get(P.bnB), get(P.runMean), get(P.runVar)];
  // (W1 Wa)ᵀ = Waᵀ W1ᵀ: [D, H]
  const waT = new Float32Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) waT[j * D + i] = Wa[i * D + j]!;
  const w1T = new Float32Array(D * H);
  for (let h = 0; h < H; h++) for (let j = 0; j < D; j++) w1T[j * H + h] = W1[h * D + j]!;
  const weight = (await matmul(waT, [D, D], w1T, [D, H])).data;
  const bias = new Float32Array(H);
  for (let h = 0; h < H; h++) {
    const s = gamma[h]! / Math.sqrt(v[h]! + c.bnEps);
    let acc = b1[h]!;
    for (let j = 0; j < D; j++) acc += W1[h * D + j]! * ba[j]!;
    bias[h] = s * (acc - mu[h]!) + beta[h]!;
    for (let i = 0; i < D; i++) weight[i * H + h]! *= s;
  }
  return { weight, bias };
}

/** Scoring graph: `features` [n, cells, D] → `scores` [n, cells] = −D(adaptor(features)). */
export async function buildScoringGraph(c: SimpleNetConfig, w: ReadonlyMap<string, NamedTensor>): Promise<Uint8Array> {
  const { weight, bias } = await foldScorer(c, w);
  const D = c.targetDim;
  const H = c.hidden;
  const g = new GraphBuilder('simplenet_score');
  const x = g.input('features', 'float32', ['n', 'cells', D]);
  const W = g.initializer('w1', 'float32', [D, H], weight);
  const B = g.initializer('b1', 'float32', [H], bias);
  const tail = g.initializer('tail', 'float32', [H, 1], Float32Array.from(w.get(P.tailW)!.data, (v) => -v));
  const act = g.op('LeakyRelu', [g.op('Add', [g.op('MatMul', [x, W]), B])], { alpha: float(c.leakySlope) });
  g.op('Squeeze', [g.op('MatMul', [act, tail]), g.constI64([2])], {}, 'scores');
  g.output('scores', 'float32', ['n', 'cells']);
  return g.toModel(13);
}
