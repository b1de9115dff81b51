/**
 * F2PAD refinement (METHODS.md §8.4): the public entry. `createRefiner(model, training)` sets up once
 * per fitted detector (pixel prior fitted on the training images, the iteration graph built and opened
 * as one ONNX Runtime session); `refiner.refine(image, threshold)` refines one image and returns, at the
 * image's original resolution, the binary mask, the per-pixel anomaly magnitude ‖A‖ and the repaired
 * image Y = X − A.
 *
 * Procedure per image (seed III-E): detector map → M0 (map ≥ the F1-optimal threshold) → dilate →
 * crop to the dilated box plus a receptive-field margin → Y0 by inpainting → A0 = X − Y0 on M0 →
 * iterate the step graph until the stopping rule → M = ‖A‖ > τ → re-estimate Y inside M with λ = 0.
 *
 * Letterboxed and tiled models are refined in their canvas (the picture top-left, as the loader makes
 * it): M0 is cut to the picture, the outputs are the picture's part resized to the original size, and
 * a tiled model's data term is its inner model's, solved per tile where it depends on the position.
 */
import { f32, openSession, ort, type Session } from '../engine/session.ts';
import { fitToInput } from '../datasets/loader.ts';
import { PatchCoreModel } from '../methods/patchcore/model.ts';
import { PadimModel } from '../methods/padim/model.ts';
import { CflowModel } from '../methods/cflow/model.ts';
import type { FittedModel } from '../methods/method.ts';
import { detectorOf } from '../methods/position-norm.ts';
import { mapModelOf } from '../methods/score-scale.ts';
import { TiledModel, type TileGrid } from '../methods/tiling.ts';
import { cropMap, resizeMap, toChw, toRgb, type ContentBox } from '../vision/index.ts';
import type { RasterImage } from '../vision/image.ts';
import type { BinaryMask } from '../vision/mask.ts';
import { Random } from '../util/random.ts';
import { connectedComponents } from '../metrics/connected-components.ts';
import { alignmentFor, CflowTerm, PadimTerm, PatchCoreTerm, type SupportedTerm } from './data-terms.ts';
import { diffusionFill, dilate, inpaintFromDonors, type Box, type PlanarImage } from './inpaint.ts';
import { buildFeatureGraph, buildStepGraph, SOLVER_CONSTANTS } from './objective.ts';
import { fitMixture, type MixturePrior } from './prior.ts';
import { mapToFloat32 } from '../util/arrays.ts';

export type Ablation = 'none' | 'init-only' | 'no-prior' | 'no-sparsity' | 'no-sharing';
export const ABLATIONS: readonly Ablation[] = ['none', 'init-only', 'no-prior', 'no-sparsity', 'no-sharing'];

export interface RefineOptions {
  /** λ = lambda0 / (estimated defect area as a fraction of the image), floored at minArea (seed IV-A3). */
  readonly lambda0: number;
  readonly minArea: number;
  /** γ, the pixel-prior weight, and β, the TV weight inside it. */
  readonly gamma: number;
  readonly beta: number;
  /** Adan base learning rate (pixel units per step). */
  readonly lr: number;
  /** Gradient clipping (element-wise, of the shared direction; seed: 0.03). */
  readonly clip: number;
  readonly maxIterations: number;
  readonly minIterations: number;
  /** Stop when the loss fell by less than `tolerance`·|loss| over the last `window` iterations. */
  readonly tolerance: number;
  readonly window: number;
  /** Mask threshold τ on ‖A_ij‖₂ (pixel units: [0, 1] RGB). */
  readonly tau: number;
  /** Dilation radius of M0 (model-input pixels). */
  readonly dilation: number;
  /** Receptive-field margin added around the dilated box before cropping (pixels). */
  readonly margin: number;
  /** Feature positions counted are those whose centre lies within the dilated box grown by this (px). */
  readonly positionMargin: number;
  /** PatchCore candidate-set size k (seed eq. 5). */
  readonly candidates: number;
  readonly reestimateIterations: number;
  /** init-only: threshold on ‖X − Y0‖ (seed: 0.2 in ImageNet-normalised units ≈ 0.045 in [0, 1]). */
  readonly initThreshold: number;
  readonly ablation: Ablation;
  /** Initial inpainting: donor (most similar training image), diffusion, or auto (donor if it fits). */
  readonly inpaint: 'auto' | 'donor' | 'diffusion';
  /** auto: largest mean squared ring mismatch for which the donor is used. */
  readonly donorRingError: number;
}

export const REFINE_DEFAULTS: RefineOptions = {
  lambda0: 0.01,
  minArea: 0.002,
  gamma: 0.05,
  beta: 2,
  lr: 0.02,
  clip: 0.03,
  maxIterations: 40,
  minIterations: 20,
  tolerance: 1e-3,
  window: 10,
  tau: 0.2,
  dilation: 8,
  margin: 32,
  positionMargin: 16,
  candidates: 8,
  reestimateIterations: 15,
  initThreshold: 0.045,
  ablation: 'none',
  inpaint: 'diffusion',
  donorRingError: 0.004,
};

export interface RefineResult {
  /** Binary mask at the original resolution. */
  readonly mask: BinaryMask;
  /** ‖A‖ per pixel at the original resolution. */
  readonly magnitude: Float32Array;
  /** The repaired (defect-free) image at the original resolution, RGB. */
  readonly repaired: RasterImage;
  /** The detector's own mask (map ≥ threshold) at the original resolution, for comparison. */
  readonly detectorMask: BinaryMask;
  readonly iterations: number;
  readonly reestimateIterations: number;
  readonly seconds: number;
  readonly lastLoss?: Readonly<Record<string, number>>;
}

export interface TrainingImages {
  /** Normal images at the model input size (planar RGB [0, 1]). */
  readonly images: readonly PlanarImage[];
}

export interface RefinerSetup {
  /** A prior fitted earlier (stored with the model); fitted on `training` when absent. */
  readonly prior?: MixturePrior;
  readonly priorComponents?: number;
  readonly priorPixels?: number;
  readonly seed?: number;
}

/** The model input of one image: the stretched picture, or the letterboxed canvas with the picture top-left. */
export interface ModelInput extends PlanarImage {
  /** Where the picture lies (all of the input when stretched). */
  readonly content: ContentBox;
}

/**
 * A window of the model input that the data term reads as a whole model input of its own: the whole
 * input, or for PaDiM and CFLOW-AD in a tiled model one tile (their statistics and conditions are
 * per position of the tile). `owned` (canvas pixels) is the part whose refinement this window writes:
 * the tiles share their overlaps out, each pixel to the tile whose centre is nearest.
 */
export interface Frame extends Box {
  readonly owned: Box;
}

export class Refiner {
  private readonly frameDonors = new Map<Frame, readonly PlanarImage[]>();

  private constructor(
    /** The detector as fitted (a tiled model included). */
    readonly model: FittedModel,
    readonly term: SupportedTerm,
    readonly prior: MixturePrior,
    private readonly step: Session,
    private readonly featureSession: Session | undefined,
    private readonly donors: readonly PlanarImage[],
    /** The windows the refinement is solved in: the whole input, or a tiled PaDiM / CFLOW-AD model's tiles (tileFrames). */
    readonly frames: readonly Frame[],
  ) {}

  static async create(scored: FittedModel, training: TrainingImages, setup: RefinerSetup = {}): Promise<Refiner> {
    // a two-scale model's map is its map model's (its score model only ranks parts)
    const model = mapModelOf(scored);
    // a tiled model's data term is its inner model's (the tiles are at the inner model's input size and
    // scale); a per-position normalised model's is its detector's, whose maps it only rescales
    const detector = detectorOf(model);
    const scorer = detector instanceof TiledModel ? detector.inner : detector;
    let term: SupportedTerm;
    if (scorer instanceof PatchCoreModel) term = new PatchCoreTerm(scorer);
    else if (scorer instanceof PadimModel) term = new PadimTerm(scorer);
    else if (scorer instanceof CflowModel) term = new CflowTerm(scorer);
    else throw new RangeError(`F2PAD refinement supports patchcore, padim and cflow models, not '${model.method}'`);
    const prior = setup.prior ?? fitPrior(training.images, setup.priorComponents ?? 4, setup.priorPixels ?? 20000, setup.seed ?? 0);
    const { model: bytes } = buildStepGraph(term, prior, SOLVER_CONSTANTS);
    const step = await openSession(bytes);
    const featureSession = term instanceof PatchCoreTerm ? await openSession(buildFeatureGraph(term)) : undefined;
    // PatchCore's term is position-free (nearest bank vectors): any window of the canvas will do
    const perTile = detector instanceof TiledModel && !(term instanceof PatchCoreTerm);
    const frames = perTile ? tileFrames(detector.grid) : [wholeFrame(model.input.width, model.input.height)];
    return new Refiner(model, term, prior, step, featureSession, training.images, frames);
  }

  async release(): Promise<void> {
    await this.step.release();
    await this.featureSession?.release();
  }

  /** The model input of an original image as the detector's pre-processing makes it, planar RGB. */
  modelInput(image: RasterImage): ModelInput {
    const { image: fitted, content } = fitToInput(image, this.model.input);
    return { data: toChw(toRgb(fitted)), width: fitted.width, height: fitted.height, content };
  }

  /** Detector anomaly map of a model input (the whole canvas of a letterboxed or tiled model). */
  async detectorMap(x: ModelInput): Promise<Float32Array> {
    const [p] = await this.model.predict({ data: x.data, n: 1, height: x.height, width: x.width, content: [x.content] });
    return p!.map;
  }

  /**
   * Refines one image. `threshold` is the detector's (F1-optimal) map threshold; `map` may be passed
   * when already computed for the model input of `image`.
   */
  async refine(image: RasterImage, threshold: number, options: Partial<RefineOptions> = {}, map?: Float32Array): Promise<RefineResult> {
    const o = { ...REFINE_DEFAULTS, ...options };
    const start = performance.now();
    const x = this.modelInput(image);
    const { width: W, height: H, content } = x;
    const plane = W * H;
    const detMap = map ?? (await this.detectorMap(x));
    // M0 and everything refined lie in the picture, never in a letterboxed canvas's padding
    const inPicture = pictureMask(W, H, content);
    const m0 = new Uint8Array(plane);
    let area0 = 0;
    for (let i = 0; i < plane; i++) if (inPicture[i] && detMap[i]! >= threshold) { m0[i] = 1; area0++; }
    // the picture's part of a model-input map at the original resolution
    const toImage = (m: Float32Array) => resizeMap(cropMap(m, W, content.width, content.height), content.width, content.height, image.width, image.height);
    const toOriginal = (mag: Float32Array, yFull: Float32Array | undefined, iterations: number, re: number, lastLoss?: Record<string, number>): RefineResult => {
      const magO = toImage(mag);
      const detO = toImage(detMap);
      const n = image.width * image.height;
      const mask = new Uint8Array(n);
      const det = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        mask[i] = magO[i]! > o.tau ? 1 : 0;
        det[i] = detO[i]! >= threshold ? 1 : 0;
      }
      const rgb = toRgb(image);
      const repaired = new Float32Array(rgb.data);
      if (yFull) {
        const planes = [0, 1, 2].map((c) => toImage(yFull.subarray(c * plane, (c + 1) * plane)));
        for (let i = 0; i < n; i++) if (mask[i]) for (let c = 0; c < 3; c++) repaired[i * 3 + c] = planes[c]![i]!;
      }
      return {
        mask: { width: image.width, height: image.height, data: mask },
        magnitude: magO,
        repaired: { width: image.width, height: image.height, channels: 3, data: repaired },
        detectorMask: { width: image.width, height: image.height, data: det },
        iterations,
        reestimateIterations: re,
        seconds: (performance.now() - start) / 1000,
        ...(lastLoss ? { lastLoss } : {}),
      };
    };
    if (area0 === 0) return toOriginal(new Float32Array(plane), undefined, 0, 0);

    const context = dilate(m0, W, H, o.dilation).map((v, i) => v & inPicture[i]!);
    const area = Math.max(area0 / (content.width * content.height), o.minArea);
    const lambda = o.ablation === 'no-sparsity' ? 0 : o.lambda0 / area;
    const gamma = o.ablation === 'no-prior' ? 0 : o.gamma;
    const mag = new Float32Array(plane);
    const yFull = x.data.slice();
    let iterations = 0;
    let reIt = 0;
    let lastLoss: Record<string, number> | undefined;
    for (const frame of this.frames) {
      const fw = frame.x1 - frame.x0;
      const fh = frame.y1 - frame.y0;
      // the dilated mask's pixels this frame writes, in frame coordinates
      const owned = new Uint8Array(fw * fh);
      let any = false;
      for (let yy = frame.owned.y0; yy < frame.owned.y1; yy++) for (let xx = frame.owned.x0; xx < frame.owned.x1; xx++) {
        if (context[yy * W + xx]) { owned[(yy - frame.y0) * fw + xx - frame.x0] = 1; any = true; }
      }
      if (!any) continue;
      const whole = fw === W && fh === H;
      const fx = whole ? x : imageWindow(x, frame);
      const fm0 = whole ? m0 : windowOf(m0, W, H, 1, frame);
      const fContext = whole ? context : windowOf(context, W, H, 1, frame);
      // acceleration (seed III-E2): one crop per group of nearby regions of the dilated mask, each the
      // group's box plus the receptive-field margin (within the frame); groups whose crops would overlap are merged
      for (const crop of groupCrops(owned, fw, fh, o.margin)) {
        const r = await this.refineCrop(fx, fm0, fContext, crop, o, { lambda, gamma }, start, this.donorsFor(frame, whole));
        const cw = crop.x1 - crop.x0;
        const ch = crop.y1 - crop.y0;
        for (let yy = 0; yy < ch; yy++) {
          const local = (crop.y0 + yy) * fw + crop.x0;
          const row = (frame.y0 + crop.y0 + yy) * W + frame.x0 + crop.x0;
          for (let xx = 0; xx < cw; xx++) {
            if (!owned[local + xx]) continue;
            mag[row + xx] = r.mag[yy * cw + xx]!;
            for (let c = 0; c < 3; c++) yFull[c * plane + row + xx] = r.y[c * ch * cw + yy * cw + xx]!;
          }
        }
        iterations = Math.max(iterations, r.iterations);
        reIt = Math.max(reIt, r.reIt);
        lastLoss = r.lastLoss;
      }
    }
    return toOriginal(mag, yFull, iterations, reIt, lastLoss);
  }

  /** The inpainting donors cut to a frame (kept: the frames are fixed per refiner). */
  private donorsFor(frame: Frame, whole: boolean): readonly PlanarImage[] {
    if (whole) return this.donors;
    let cut = this.frameDonors.get(frame);
    if (!cut) {
      cut = this.donors.map((d) => imageWindow(d, frame));
      this.frameDonors.set(frame, cut);
    }
    return cut;
  }

  /** Initialisation, solve and re-estimation on one crop; returns ‖A‖ and Y on the crop. */
  private async refineCrop(x: PlanarImage, m0: Uint8Array, context: Uint8Array, crop: Box, o: RefineOptions, w: { lambda: number; gamma: number }, start: number, donors: readonly PlanarImage[]) {
    const { width: W, height: H } = x;
    const plane = W * H;
    const { lambda, gamma } = w;
    let y0: Float32Array;
    if (o.inpaint === 'diffusion') y0 = diffusionFill(x, m0, crop);
    else if (o.inpaint === 'donor') y0 = inpaintFromDonors(x, m0, context, donors, crop).y0;
    else {
      // auto: the donor copy when its (shifted) pixels continue the surroundings well, else diffusion
      const donor = inpaintFromDonors(x, m0, context, donors, crop);
      y0 = donor.ringError < o.donorRingError ? donor.y0 : diffusionFill(x, m0, crop);
    }

    if (o.ablation === 'init-only') {
      // the seed's init-only ablation: threshold ‖X − Y0‖ inside M0
      const ch0 = crop.y1 - crop.y0;
      const cw0 = crop.x1 - crop.x0;
      const magI = new Float32Array(ch0 * cw0);
      const yI = new Float32Array(3 * ch0 * cw0);
      for (let yy = 0; yy < ch0; yy++) for (let xx = 0; xx < cw0; xx++) {
        const p = (crop.y0 + yy) * W + crop.x0 + xx;
        let s2 = 0;
        for (let c = 0; c < 3; c++) {
          s2 += (x.data[c * plane + p]! - y0[c * plane + p]!) ** 2;
          yI[c * ch0 * cw0 + yy * cw0 + xx] = y0[c * plane + p]!;
        }
        const v = Math.sqrt(s2);
        // reported on the τ scale so that mask = magnitude > τ holds
        magI[yy * cw0 + xx] = m0[p] && v > o.initThreshold ? Math.max(v, o.tau + 1e-6) : 0;
      }
      return { mag: magI, y: yI, iterations: 0, reIt: 0, lastLoss: undefined };
    }

    const ch = crop.y1 - crop.y0;
    const cw = crop.x1 - crop.x0;
    const cplane = ch * cw;
    const xc = windowOf(x.data, W, H, 3, crop);
    const y0c = windowOf(y0, W, H, 3, crop);
    const m0c = Float32Array.from(windowOf(m0, W, H, 1, crop));
    const regionC = Float32Array.from(windowOf(context, W, H, 1, crop));
    const a0 = new Float32Array(3 * cplane);
    for (let c = 0; c < 3; c++) for (let p = 0; p < cplane; p++) a0[c * cplane + p] = m0c[p]! ? xc[c * cplane + p]! - y0c[c * cplane + p]! : 0;

    const term = this.term;
    const s = term.stride;
    const gh = ch / s;
    const gw = cw / s;
    const offset = term.tapSpecs[0]!.offset;
    // feature positions counted: cell centres within positionMargin px of the dilated region
    const near = dilate(context, W, H, o.positionMargin);
    const dims = [1, 3, ch, cw];
    // CFLOW-AD scores each tap on its own grid: the same rule per tap (CflowTerm.cropFeeds)
    const cflow = term instanceof CflowTerm ? term.cropFeeds(crop, near, W, H) : undefined;
    const positions: number[] = [];
    if (!cflow) for (let i = 0; i < gh; i++) {
      for (let j = 0; j < gw; j++) {
        const cy = Math.round(crop.y0 + s * i + (s - 1) / 2 + offset.y);
        const cx = Math.round(crop.x0 + s * j + (s - 1) / 2 + offset.x);
        if (near[Math.min(H - 1, Math.max(0, cy)) * W + Math.min(W - 1, Math.max(0, cx))]) positions.push(i * gw + j);
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      x: f32(xc, dims),
      region: f32(regionC, [1, 1, ch, cw]),
      data_scale: f32(Float32Array.of(1), []),
      ...(cflow ? cflow.feeds : { positions: new ort.Tensor('int64', BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]) }),
      ...alignmentFor(term, ch, cw),
    };
    if (term instanceof CflowTerm) {
      // conditions and positions only (above)
    } else if (term instanceof PatchCoreTerm) {
      const all = (await this.featureSession!.run({ x: f32(y0c, dims), ...alignmentFor(term, ch, cw) }))['features']!.data as Float32Array;
      const index = term.model.index;
      const D = index.dim;
      const feats = new Float32Array(positions.length * D);
      positions.forEach((p, q) => feats.set(all.subarray(p * D, (p + 1) * D), q * D));
      const nn = await index.search(feats, Math.min(o.candidates, index.size));
      const cand = new Float32Array(positions.length * nn.k * D);
      for (let q = 0; q < positions.length; q++) for (let j = 0; j < nn.k; j++) {
        const row = nn.indices[q * nn.k + j]!;
        cand.set(index.bank.subarray(row * D, (row + 1) * D), (q * nn.k + j) * D);
      }
      feeds['candidates'] = f32(cand, [positions.length, nn.k, D]);
    } else {
      const stats = term.cropStatistics(crop.y0 / s, crop.x0 / s, gw, positions);
      feeds['mean'] = stats.mean;
      feeds['whitening'] = stats.whitening;
    }
    // data scale (ours): stride² / (mean score of the counted positions at Y0), so the data term is an
    // energy per pixel of about 1 at the initial estimate, for every detector
    const probe = await this.step.run({ ...this.initialState(feeds, a0, regionC, o), step: new ort.Tensor('int64', BigInt64Array.of(1n), []) }, ['part_data']);
    const counted = cflow ? cflow.counted : positions.length;
    const atY0 = Number(probe['part_data']!.data[0]) / Math.max(counted, 1);
    feeds['data_scale'] = f32(Float32Array.of((s * s) / Math.max(atY0, 1e-12)), []);
    const first = await this.solve(feeds, a0, regionC, { lambda, gamma, beta: o.beta, share: o.ablation === 'no-sharing' ? 0 : 1 }, o, o.maxIterations);
    if (process.env['ARGUS_F2PAD_DEBUG']) console.error(`[f2pad] crop ${cw}x${ch} Q ${cflow ? cflow.positions.map((p) => p.length).join('/') : positions.length} at Y0 ${atY0.toPrecision(3)} setup ${(first.t0 - start).toFixed(0)} ms, ${first.iterations} it at ${((performance.now() - first.t0) / first.iterations).toFixed(1)} ms`, first.lastLoss);
    const aC = first.a;
    const magC = new Float32Array(cplane);
    for (let p = 0; p < cplane; p++) magC[p] = Math.sqrt(aC[p]! ** 2 + aC[cplane + p]! ** 2 + aC[2 * cplane + p]! ** 2);

    // re-estimation of Y inside M with λ = 0 (seed III-E3)
    const maskC = mapToFloat32(magC, (v) => (v > o.tau ? 1 : 0));
    let reIt = 0;
    let aFinal = aC;
    if (o.reestimateIterations > 0 && maskC.some((v) => v > 0)) {
      const start2 = mapToFloat32(aC, (v, i) => v * maskC[i % cplane]!);
      const second = await this.solve({ ...feeds, region: f32(maskC, [1, 1, ch, cw]) }, start2, maskC, { lambda: 0, gamma, beta: o.beta, share: o.ablation === 'no-sharing' ? 0 : 1 }, { ...o, minIterations: Math.min(o.minIterations, o.reestimateIterations) }, o.reestimateIterations);
      aFinal = second.a;
      reIt = second.iterations;
    }
    const yC = mapToFloat32(xc, (v, i) => v - aFinal[i]!);
    return { mag: magC, y: yC, iterations: first.iterations, reIt, lastLoss: first.lastLoss };
  }


  /** Feeds for a solve from A = a0 (zero optimiser state; weights as options, no ablation). */
  private initialState(base: Record<string, ort.Tensor>, a0: Float32Array, region: Float32Array, o: RefineOptions): Record<string, ort.Tensor> {
    const dims = base['x']!.dims;
    const zeros = () => f32(new Float32Array(a0.length), dims);
    return {
      ...base,
      a: f32(mapToFloat32(a0, (v, i) => v * region[i % region.length]!), dims),
      'a.exp_avg': zeros(),
      'a.exp_avg_diff': zeros(),
      'a.exp_avg_sq': zeros(),
      'a.prev_grad': zeros(),
      lambda: f32(Float32Array.of(0), []),
      gamma: f32(Float32Array.of(o.gamma), []),
      beta: f32(Float32Array.of(o.beta), []),
      lr: f32(Float32Array.of(o.lr), []),
      share: f32(Float32Array.of(1), []),
      clip: f32(Float32Array.of(o.clip), []),
    };
  }

  /** Runs the step graph from A = a0 until the stopping rule or `maxIterations`. */
  private async solve(base: Record<string, ort.Tensor>, a0: Float32Array, region: Float32Array, w: { lambda: number; gamma: number; beta: number; share: number }, o: RefineOptions, maxIterations: number) {
    const dims = base['x']!.dims;
    const zeros = () => f32(new Float32Array(a0.length), dims);
    const feeds: Record<string, ort.Tensor> = {
      ...base,
      a: f32(mapToFloat32(a0, (v, i) => v * region[i % region.length]!), dims),
      'a.exp_avg': zeros(),
      'a.exp_avg_diff': zeros(),
      'a.exp_avg_sq': zeros(),
      'a.prev_grad': zeros(),
      lambda: f32(Float32Array.of(w.lambda), []),
      gamma: f32(Float32Array.of(w.gamma), []),
      beta: f32(Float32Array.of(w.beta), []),
      lr: f32(Float32Array.of(o.lr), []),
      share: f32(Float32Array.of(w.share), []),
      clip: f32(Float32Array.of(o.clip), []),
    };
    const t0 = performance.now();
    const history: number[] = [];
    let best = { loss: Infinity, a: feeds['a']!.data as Float32Array };
    let it = 0;
    let lastLoss: Record<string, number> = {};
    const outputs = ['loss', 'part_data', 'part_sparsity', 'part_mog', 'part_tv', 'part_range', 'a.new', 'a.exp_avg.new', 'a.exp_avg_diff.new', 'a.exp_avg_sq.new', 'a.prev_grad.new'];
    for (it = 1; it <= maxIterations; it++) {
      feeds['step'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(it)), []);
      const out = await this.step.run(feeds, outputs);
      const loss = Number(out['loss']!.data[0]);
      lastLoss = Object.fromEntries(outputs.slice(0, 6).map((n) => [n, Number(out[n]!.data[0])]));
      if (!Number.isFinite(loss)) break;
      if (loss < best.loss) best = { loss, a: feeds['a']!.data as Float32Array };
      history.push(loss);
      feeds['a'] = out['a.new']!;
      for (const s of ['exp_avg', 'exp_avg_diff', 'exp_avg_sq', 'prev_grad']) feeds[`a.${s}`] = out[`a.${s}.new`]!;
      if (it >= o.minIterations && history.length > o.window) {
        const before = history[history.length - 1 - o.window]!;
        if (before - Math.min(...history.slice(-o.window)) < o.tolerance * Math.abs(before)) break;
      }
    }
    // the iterate with the lowest objective seen (Adan is not monotone)
    return { a: best.a, iterations: Math.min(it, maxIterations), lastLoss, t0 };
  }
}

export function createRefiner(model: FittedModel, training: TrainingImages, setup?: RefinerSetup): Promise<Refiner> {
  return Refiner.create(model, training, setup);
}

const refiners = new WeakMap<FittedModel, Promise<Refiner>>();

/**
 * One-call form: refines `image` for `model` (the refinement set-up, prior included, is built on the
 * first call for a model from `training` and reused after). `threshold` is the detector's map threshold.
 */
export async function refine(model: FittedModel, image: RasterImage, options: Partial<RefineOptions> & { readonly threshold: number; readonly training: TrainingImages }): Promise<RefineResult> {
  let r = refiners.get(model);
  if (!r) {
    r = createRefiner(model, options.training);
    refiners.set(model, r);
  }
  return (await r).refine(image, options.threshold, options);
}

/**
 * The pixel prior from up to `count` pixels drawn evenly from the training images, inside each one's
 * picture: a letterbox's padding is not a colour of the part.
 */
export function fitPrior(images: readonly PlanarImage[], k: number, count: number, seed: number): MixturePrior {
  const rng = new Random(seed);
  const pixels = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) {
    const img = images[i % images.length]!;
    const { width, height } = img.content ?? img;
    const q = rng.int(width * height);
    const p = Math.floor(q / width) * img.width + (q % width);
    const plane = img.width * img.height;
    for (let c = 0; c < 3; c++) pixels[i * 3 + c] = img.data[c * plane + p]!;
  }
  return fitMixture(pixels, { k, seed });
}

/**
 * Crops for the connected regions of `mask`: each region's box grown by `margin` and snapped to 32;
 * overlapping crops are merged until none overlap.
 */
export function groupCrops(mask: Uint8Array, W: number, H: number, margin: number): Box[] {
  const { labels, count } = connectedComponents(mask, W, H);
  const boxes: Array<{ x0: number; y0: number; x1: number; y1: number }> = Array.from({ length: count }, () => ({ x0: W, y0: H, x1: 0, y1: 0 }));
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p]!;
    if (!l) continue;
    const b = boxes[l - 1]!;
    const xx = p % W;
    const yy = (p - xx) / W;
    b.x0 = Math.min(b.x0, xx); b.y0 = Math.min(b.y0, yy); b.x1 = Math.max(b.x1, xx + 1); b.y1 = Math.max(b.y1, yy + 1);
  }
  let crops = boxes.map((b) => snapBox(b, margin, W, H, 32));
  for (let merged = true; merged; ) {
    merged = false;
    outer: for (let i = 0; i < crops.length; i++) for (let j = i + 1; j < crops.length; j++) {
      const a = crops[i]!;
      const b = crops[j]!;
      if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) {
        const u = { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
        crops = [...crops.filter((_, k) => k !== i && k !== j), u];
        merged = true;
        break outer;
      }
    }
  }
  return crops;
}

/** The box grown by `margin`, with its corners snapped outward to multiples of `multiple` (within W × H). */
export function snapBox(b: Box, margin: number, W: number, H: number, multiple: number): Box {
  const lo = (v: number) => Math.max(0, Math.floor((v - margin) / multiple) * multiple);
  const hi = (v: number, max: number) => Math.min(max, Math.ceil((v + margin) / multiple) * multiple);
  return { x0: lo(b.x0), y0: lo(b.y0), x1: hi(b.x1, W), y1: hi(b.y1, H) };
}

/** The whole model input as one frame. */
function wholeFrame(width: number, height: number): Frame {
  const all = { x0: 0, y0: 0, x1: width, y1: height };
  return { ...all, owned: all };
}

/**
 * One frame per tile of a tiled model; each owns the canvas pixels nearer its centre than any other
 * tile's (along each axis, the overlap with a neighbour is split at its middle).
 */
export function tileFrames(grid: TileGrid): Frame[] {
  const { size } = grid;
  /** Where tile i's share of one axis starts and ends. */
  const shares = (starts: readonly number[]) => starts.map((s, i) => ({
    from: i === 0 ? 0 : Math.round((starts[i - 1]! + s + size) / 2),
    to: i === starts.length - 1 ? s + size : Math.round((s + starts[i + 1]! + size) / 2),
  }));
  const xs = shares(grid.xs);
  const ys = shares(grid.ys);
  return grid.ys.flatMap((y0, r) => grid.xs.map((x0, c) => ({
    x0, y0, x1: x0 + size, y1: y0 + size,
    owned: { x0: xs[c]!.from, y0: ys[r]!.from, x1: xs[c]!.to, y1: ys[r]!.to },
  })));
}

/** 1 on the picture's part (top-left content box) of a width × height model input. */
function pictureMask(width: number, height: number, content: ContentBox): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = 0; y < content.height; y++) m.fill(1, y * width, y * width + content.width);
  return m;
}

/** The box's window of planar data (`channels` planes of width × height). */
function windowOf<T extends Float32Array | Uint8Array>(data: T, width: number, height: number, channels: number, b: Box): T {
  const w = b.x1 - b.x0;
  const h = b.y1 - b.y0;
  const out = new (data.constructor as new (n: number) => T)(channels * w * h);
  for (let c = 0; c < channels; c++) for (let y = 0; y < h; y++) {
    const src = c * width * height + (b.y0 + y) * width + b.x0;
    out.set(data.subarray(src, src + w), (c * h + y) * w);
  }
  return out;
}

/** The box's window of a planar RGB image. */
const imageWindow = (img: PlanarImage, b: Box): PlanarImage => ({ data: windowOf(img.data, img.width, img.height, 3, b), width: b.x1 - b.x0, height: b.y1 - b.y0 });
