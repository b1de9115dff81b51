/**
 * The F2PAD iteration as one ONNX graph (METHODS.md §8.4): from the observed crop X and the current
 * anomaly A it computes the objective
 *
 *   F(A) = L(X − A) + λ·R1(A) + γ·(R_MOG(X − A) + β·R_TV(X − A)) + ρ·R_range(X − A),
 *
 * its gradient with respect to A through the frozen backbone (engine/autodiff backward()), the local
 * bilateral gradient sharing, gradient clipping, the adaptive per-pixel step and one Adan update.
 * One `run` of the session is one iteration; JS only feeds the state back.
 *
 * The detector-specific data term L is a plug-in (`DataTerm`): PatchCore, PaDiM and CFLOW-AD live in
 * data-terms.ts.
 */
import { GraphBuilder, int, ints } from '../engine/onnx/graph.ts';
import { backward } from '../engine/autodiff/index.ts';
import { adan } from '../engine/optim/adan.ts';
import { applyOptimizer } from '../engine/optim/optimizer.ts';
import { appendBackbone, dropUnusedInitializers, k, minAlong, REFINE_OPSET, REFINE_RULES, sq, sumAll } from './graph-util.ts';
import { whiteningFactors, type MixturePrior } from './prior.ts';

/** A detector's data term, written after the backbone taps. */
export interface DataTerm {
  readonly name: string;
  readonly backbone: string;
  readonly taps: readonly string[];
  /** Stride (input pixels) of the grid the term scores (the finest, when it scores several). */
  readonly stride: number;
  /** Appends the scalar data term L(Y) from the backbone taps of Y; declares the inputs it needs. */
  score(g: GraphBuilder, taps: Readonly<Record<string, string>>): string;
}

/** A data term whose per-position features can be computed alone (PatchCore's candidate search). */
export interface FeatureTerm extends DataTerm {
  /** Appends the per-position features [P, D] (P = positions of the crop's grid, row-major). */
  features(g: GraphBuilder, taps: Readonly<Record<string, string>>): string;
}

/** Constants of the objective and solver that are baked into the graph (those tuned per run are inputs). */
export interface SolverConstants {
  /** ε of the LOG penalty log(‖a‖ + sqrt(‖a‖² + ε)), in [0, 1] pixel units squared. */
  readonly logEps: number;
  /** ε inside the vectorial TV square root. */
  readonly tvEps: number;
  /** Weight ρ of the valid-range penalty Σ relu(−y)² + relu(y − 1)². */
  readonly rangeWeight: number;
  /** Gradient sharing: neighbourhood radius r ((2r+1)² pixels), spatial σ_s (px), colour σ_c ([0, 1] RGB). */
  readonly shareRadius: number;
  readonly sigmaSpatial: number;
  readonly sigmaColour: number;
  /** Adaptive step: at most `stepBoost` times the base rate, for pixels whose direction is small. */
  readonly stepBoost: number;
}

export const SOLVER_CONSTANTS: SolverConstants = {
  // ours: saturates the penalty above ~0.01 of the pixel range (2.5 grey levels)
  logEps: 1e-4,
  tvEps: 1e-6,
  rangeWeight: 10,
  // the seed's four solver constants are 1.0, 5, 1.1 and 3.0; read here as σ_s = 1.0 px, a 5×5
  // neighbourhood (r = 2), σ_c = 1.1 in ImageNet-normalised units (≈ 0.25 in [0, 1] RGB: 1.1 × 0.226),
  // and c = 3.0 the largest step multiplier.
  shareRadius: 2,
  sigmaSpatial: 1.0,
  sigmaColour: 0.25,
  stepBoost: 3.0,
};

export interface StepGraph {
  readonly model: Uint8Array;
  /** Output names of the per-term values (for logging and the ablation report). */
  readonly parts: readonly string[];
}

const IMG = (c: number | string) => [1, c, 'h', 'w'];

/**
 * Inputs: x, a, a.exp_avg, a.exp_avg_diff, a.exp_avg_sq, a.prev_grad [1, 3, h, w]; region [1, 1, h, w]
 * (1 where A may be non-zero); scalars lambda, gamma, beta, lr, share (1 = gradient sharing, 0 = plain
 * gradient), clip; step (int64 scalar, 1-based); plus the data term's inputs.
 * Outputs: loss, the parts, a.new and the four state tensors `.new`.
 */
export function buildStepGraph(term: DataTerm, prior: MixturePrior, c: SolverConstants = SOLVER_CONSTANTS): StepGraph {
  const g = new GraphBuilder(`f2pad_${term.name}`);
  const x = g.input('x', 'float32', IMG(3));
  const a = g.input('a', 'float32', IMG(3));
  const state = Object.fromEntries(['exp_avg', 'exp_avg_diff', 'exp_avg_sq', 'prev_grad'].map((s) => [s, g.input(`a.${s}`, 'float32', IMG(3))]));
  const region = g.input('region', 'float32', IMG(1));
  const scalarIn = (n: string) => g.input(n, 'float32', []);
  const lambda = scalarIn('lambda');
  const gamma = scalarIn('gamma');
  const beta = scalarIn('beta');
  const lr = scalarIn('lr');
  const share = scalarIn('share');
  const clip = scalarIn('clip');
  const step = g.input('step', 'int64', []);

  const y = g.op('Sub', [x, g.op('Mul', [a, region])], {}, 'y');
  const taps = appendBackbone(g, term.backbone, term.taps, y);
  const data = g.op('Identity', [term.score(g, taps)], {}, 'part_data');
  const terms = pixelTerms(g, a, y, region, prior, c);
  const total = g.op('Add', [g.op('Add', [data, g.op('Mul', [lambda, terms.sparsity])]), g.op('Add', [g.op('Mul', [gamma, g.op('Add', [terms.mog, g.op('Mul', [beta, terms.tv])])]), g.op('Mul', [k(g, c.rangeWeight), terms.range])])]);
  g.op('Identity', [total], {}, 'loss');
  const grad = backward(g, total, [a], { opset: REFINE_OPSET, rules: REFINE_RULES }).get(a)!;

  // local gradient sharing with bilateral weights (seed eq. 13-14), inside the region only
  const shared = shareGradient(g, grad, x, region, c);
  const direction = g.op('Add', [g.op('Mul', [share, shared]), g.op('Mul', [g.op('Sub', [k(g, 1), share]), grad])]);
  const clipped = g.op('Clip', [direction, g.op('Neg', [clip]), clip]);
  // adaptive per-pixel step (seed eq. 15, our form): η_ij = lr · clip(d̄ / (‖d_ij‖ + 1e-3·d̄), 1, c)
  const magnitude = g.op('Sqrt', [g.op('Add', [g.op('ReduceSum', [sq(g, clipped), g.constI64([1])], { keepdims: int(1) }), k(g, 1e-20)])]);
  const regionSum = g.op('Add', [sumAll(g, region), k(g, 1e-6)]);
  const meanMagnitude = g.op('Div', [sumAll(g, g.op('Mul', [magnitude, region])), regionSum]);
  const ratio = g.op('Div', [meanMagnitude, g.op('Add', [magnitude, g.op('Mul', [k(g, 1e-3), meanMagnitude])])]);
  const eta = g.op('Mul', [lr, g.op('Clip', [ratio, k(g, 1), k(g, c.stepBoost)])], {}, 'eta');

  const opt = adan();
  const hyper: Record<string, string> = { lr: eta };
  for (const [name, v] of Object.entries(opt.defaults)) if (name !== 'lr') hyper[name] = k(g, v);
  const [updated] = applyOptimizer(g, opt, [{ param: a, grad: clipped, state }], hyper, step);
  g.op('Mul', [updated!.param, region], {}, 'a.new');
  g.output('loss', 'float32', []);
  const parts = ['part_data', 'part_sparsity', 'part_mog', 'part_tv', 'part_range'];
  g.op('Identity', [terms.sparsity], {}, 'part_sparsity');
  g.op('Identity', [terms.mog], {}, 'part_mog');
  g.op('Identity', [terms.tv], {}, 'part_tv');
  g.op('Identity', [terms.range], {}, 'part_range');
  for (const p of parts) g.output(p, 'float32', []);
  g.output('a.new', 'float32', IMG(3));
  for (const s of opt.stateKeys) {
    g.op('Identity', [updated!.state[s]!], {}, `a.${s}.new`);
    g.output(`a.${s}.new`, 'float32', IMG(3));
  }
  return { model: dropUnusedInitializers(g).toModel(REFINE_OPSET), parts };
}

/** Features only (for the PatchCore candidate sets): input x [1, 3, h, w], output features [P, D]. */
export function buildFeatureGraph(term: FeatureTerm): Uint8Array {
  const g = new GraphBuilder(`f2pad_features_${term.name}`);
  const x = g.input('x', 'float32', IMG(3));
  const y = g.op('Identity', [x]);
  const f = term.features(g, appendBackbone(g, term.backbone, term.taps, y));
  g.op('Identity', [f], {}, 'features');
  g.output('features', 'float32', ['p', 'd']);
  return dropUnusedInitializers(g).toModel(REFINE_OPSET);
}

export interface PixelTerms {
  readonly sparsity: string;
  readonly mog: string;
  readonly tv: string;
  readonly range: string;
}

/**
 * The pixel-level terms, each a scalar:
 * - sparsity R1 = Σ_region log(‖a‖ + sqrt(‖a‖² + ε)) − log(sqrt ε) (LOG penalty, 0 at A = 0; seed eq. 8);
 * - R_MOG = Σ_region min_k ‖P_k (y − μ_k)‖² with P_kᵀP_k = Σ_k⁻¹ (seed eq. 10, equal weights);
 * - R_TV = Σ_region sqrt(Σ_c (∂x y_c)² + (∂y y_c)² + ε) (vectorial TV with coupled channels, eq. 11);
 * - R_range = Σ relu(−y)² + relu(y − 1)² (valid pixel range [0, 1]).
 */
export function pixelTerms(g: GraphBuilder, a: string, y: string, region: string, prior: MixturePrior, c: SolverConstants): PixelTerms {
  const channelSum = (t: string) => g.op('ReduceSum', [t, g.constI64([1])], { keepdims: int(1) });
  const norm = g.op('Sqrt', [g.op('Add', [channelSum(sq(g, a)), k(g, 1e-12)])]);
  const logPenalty = g.op('Log', [g.op('Add', [norm, g.op('Sqrt', [g.op('Add', [sq(g, norm), k(g, c.logEps)])])])]);
  const sparsity = sumAll(g, g.op('Mul', [g.op('Sub', [logPenalty, k(g, 0.5 * Math.log(c.logEps))]), region]));

  const K = prior.k;
  const P = whiteningFactors(prior);
  const bias = new Float32Array(K * 3);
  for (let j = 0; j < K; j++) for (let r = 0; r < 3; r++) {
    let s = 0;
    for (let q = 0; q < 3; q++) s += P[j * 9 + r * 3 + q]! * prior.means[j * 3 + q]!;
    bias[j * 3 + r] = -s;
  }
  const z = g.op('Conv', [y, g.constF32(P, [K * 3, 3, 1, 1]), g.constF32(bias, [K * 3])], { kernel_shape: ints([1, 1]) });
  const q = g.op('ReduceSum', [sq(g, g.op('Reshape', [z, g.constI64([1, K, 3, -1])])), g.constI64([2])], { keepdims: int(0) });
  const perPixel = minAlong(g, q, 1); // [1, hw]
  const mog = sumAll(g, g.op('Mul', [perPixel, g.op('Reshape', [region, g.constI64([1, -1])])]));

  const slice = (t: string, starts: number[], ends: number[]) => g.op('Slice', [t, g.constI64(starts), g.constI64(ends), g.constI64([2, 3])]);
  const BIG = 1 << 30;
  const dx = g.op('Sub', [slice(y, [0, 1], [-1, BIG]), slice(y, [0, 0], [-1, -1])]);
  const dy = g.op('Sub', [slice(y, [1, 0], [BIG, -1]), slice(y, [0, 0], [-1, -1])]);
  const tvPixel = g.op('Sqrt', [g.op('Add', [channelSum(g.op('Add', [sq(g, dx), sq(g, dy)])), k(g, c.tvEps)])]);
  const tv = sumAll(g, g.op('Mul', [tvPixel, slice(region, [0, 0], [-1, -1])]));

  const below = g.op('Relu', [g.op('Neg', [y])]);
  const above = g.op('Relu', [g.op('Sub', [y, k(g, 1)])]);
  const range = sumAll(g, g.op('Add', [sq(g, below), sq(g, above)]));
  return { sparsity, mog, tv, range };
}

/**
 * d_ij = Σ_(p,q) w_ij,pq g_pq / Σ w_ij,pq over the (2r+1)² neighbourhood, with
 * w = exp(−‖(i,j) − (p,q)‖² / 2σ_s²) · exp(−‖x_ij − x_pq‖² / 2σ_c²), counting only in-region neighbours.
 */
function shareGradient(g: GraphBuilder, grad: string, x: string, region: string, c: SolverConstants): string {
  const r = c.shareRadius;
  const pads = g.constI64([0, 0, r, r, 0, 0, r, r]);
  const gp = g.op('Pad', [grad, pads], { mode: { string: 'constant' } });
  const xp = g.op('Pad', [x, pads], { mode: { string: 'edge' } });
  const rp = g.op('Pad', [region, pads], { mode: { string: 'constant' } });
  const cut = (t: string, dy: number, dx: number) => {
    const end = (o: number) => (r - o > 0 ? -(r - o) : 1 << 30);
    return g.op('Slice', [t, g.constI64([r + dy, r + dx]), g.constI64([end(dy), end(dx)]), g.constI64([2, 3])]);
  };
  let num: string | undefined;
  let den: string | undefined;
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const spatial = Math.exp(-(dy * dy + dx * dx) / (2 * c.sigmaSpatial ** 2));
      const dist = g.op('ReduceSum', [sq(g, g.op('Sub', [cut(xp, dy, dx), x])), g.constI64([1])], { keepdims: int(1) });
      const w = g.op('Mul', [g.op('Exp', [g.op('Mul', [dist, k(g, -1 / (2 * c.sigmaColour ** 2))])]), g.op('Mul', [cut(rp, dy, dx), k(g, spatial)])]);
      const term = g.op('Mul', [w, cut(gp, dy, dx)]);
      num = num ? g.op('Add', [num, term]) : term;
      den = den ? g.op('Add', [den, w]) : w;
    }
  }
  return g.op('Div', [num!, g.op('Add', [den!, k(g, 1e-12)])]);
}

