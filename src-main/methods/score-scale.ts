/**
 * Two scales in one model, for long parts tiled at native resolution. The native-resolution tiles
 * outline a hairline crack best, but a long part's image score, the maximum of its map, is where
 * most normal patches compete with the defect; the same part shrunk to a short side near the method's
 * input size ranks parts better (README, "Long parts with hairline cracks": 87.25 against 83.65 image
 * AUROC on the crack triples, while the native tiles keep 97.20 pixel AUROC against 95.86).
 *
 * With `scoreSide` (px, 0 = off) a tiled model is two models of the same method and settings: the
 * map model at the configured canvas (anomaly map, outlines, defect areas, pixel metrics, F2PAD,
 * why-flagged) and the score model at the canvas shrunk to that short side (the image score: the
 * largest value of its map over the picture outside ignore regions). Both are fitted in one pass over
 * the training images; per-position normalisation, when on, normalises each by its own held-out maps.
 * The model's input names the score canvas as its second (InputSpec.second), so the loader makes it
 * from the original image as it makes the native one: a canvas shrunk from the native one has been
 * resampled twice, and its blur cost the crack triples 1.7 points of image AUROC (87.50 against
 * 89.20, README). A batch without it (made by hand) has its canvases shrunk (shrinkBatch).
 *
 * `withScoreScale` decorates a method; with `scoreSide` 0 it is the method itself. A saved model holds
 * both: the map model's file with the score model's tensors under SCORE_PREFIX and its meta in
 * meta.scoreModel.
 */
import { decodeTensorFile, encodeTensorFile, type NamedTensor } from '../engine/training/tensor-file.ts';
import { teeAsync } from '../util/async-tee.ts';
import { resize, type ContentBox } from '../vision/index.ts';
import type { FitEvents, FittedModel, ImageBatch, Method, Prediction, StoredModel, TrainingScores } from './method.ts';
import { ModelFormatError } from './model-file.ts';
import { pictureArgmax } from './tiling.ts';
import { parseTrainingScores } from './training-scores.ts';

export interface ScoreScaleSettings {
  /** Short side (px) of the canvas the image score is taken from; 0: from the map's own canvas. */
  readonly scoreSide: number;
}

export const SCORE_SCALE_DEFAULTS: ScoreScaleSettings = { scoreSide: 0 };

/** What the decorator reads of a method's configuration. */
interface CanvasConfig {
  readonly resize: string;
  readonly height: number;
  readonly width: number;
  readonly tileSize: number;
}

const SCORE_PREFIX = 'score/';

/** Batches the faster of the two fits may read ahead of the slower (each a batch of native canvases). */
const LOOKAHEAD = 4;

/** The canvas the score model reads: the configured one shrunk to a short side of `scoreSide`, aspect kept. */
export function scoreCanvas(config: CanvasConfig & ScoreScaleSettings): { height: number; width: number } {
  const f = config.scoreSide / Math.min(config.height, config.width);
  return { height: Math.max(1, Math.round(config.height * f)), width: Math.max(1, Math.round(config.width * f)) };
}

export function checkScoreScale(config: CanvasConfig & ScoreScaleSettings): void {
  const { scoreSide: side } = config;
  if (!Number.isInteger(side) || side < 0) throw new RangeError(`scoreSide must be a whole number of pixels (0: off); received ${side}`);
  if (side === 0) return;
  if (config.resize !== 'tile') throw new RangeError(`an image score at a short side of ${side} px goes with resize 'tile' (the map at native resolution); received resize '${config.resize}'`);
  const short = Math.min(config.height, config.width);
  if (side >= short) throw new RangeError(`scoreSide ${side} px must be below the canvas's short side (${config.height}x${config.width}: ${short} px): the score is taken from the part shrunk`);
  if (side < config.tileSize) throw new RangeError(`scoreSide ${side} px must hold one ${config.tileSize} px tile`);
}

/** The canvases of `batch` shrunk to height × width with `filter`; ignore masks shrink to every pixel any ignored one reaches. */
export function shrinkBatch(batch: ImageBatch, height: number, width: number, filter: FittedModel['input']['filter']): ImageBatch {
  const plane = batch.height * batch.width;
  const out = new Float32Array(batch.n * 3 * height * width);
  for (let c = 0; c < batch.n * 3; c++) {
    const channel = { width: batch.width, height: batch.height, channels: 1 as const, data: batch.data.subarray(c * plane, (c + 1) * plane) };
    out.set(resize(channel, width, height, filter).data, c * height * width);
  }
  const sx = batch.width / width;
  const sy = batch.height / height;
  const ignore = batch.ignore && shrinkIgnore(batch.ignore, batch.n, batch.height, batch.width, height, width);
  const content = batch.content?.map((b): ContentBox => ({ width: Math.min(width, Math.max(1, Math.round(b.width / sx))), height: Math.min(height, Math.max(1, Math.round(b.height / sy))) }));
  return { data: out, n: batch.n, height, width, ...(ignore ? { ignore } : {}), ...(content ? { content } : {}) };
}

/** The batch's canvases at the score model's input: as the loader made them (`second`), else shrunk. */
function scoreBatch(batch: ImageBatch, input: FittedModel['input']): ImageBatch {
  const made = batch.second;
  if (made && made.height === input.height && made.width === input.width) return made;
  return shrinkBatch(batch, input.height, input.width, input.filter);
}

/** A shrunk pixel is ignored when any native pixel of its footprint is. */
function shrinkIgnore(ignore: Uint8Array, n: number, h: number, w: number, height: number, width: number): Uint8Array {
  const out = new Uint8Array(n * height * width);
  const span = (i: number, from: number, to: number) => [Math.floor((i * from) / to), Math.min(from, Math.ceil(((i + 1) * from) / to))] as const;
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < height; y++) {
      const [y0, y1] = span(y, h, height);
      for (let x = 0; x < width; x++) {
        const [x0, x1] = span(x, w, width);
        let any = 0;
        for (let v = y0; v < y1 && !any; v++) for (let u = x0; u < x1; u++) if (ignore[k * h * w + v * w + u]) (any = 1);
        out[k * height * width + y * width + x] = any;
      }
    }
  }
  return out;
}

/** The image scores of one model with the pixel statistics of another. */
function combinedScores(score: TrainingScores | undefined, map: TrainingScores | undefined): TrainingScores | undefined {
  if (!score || !map) return map ?? score;
  return { ...map, images: Math.min(score.images, map.images), imageMean: score.imageMean, imageMax: score.imageMax };
}

export class TwoScaleModel implements FittedModel {
  readonly method: string;
  readonly input: FittedModel['input'];
  readonly backbone: FittedModel['backbone'];
  readonly trainingScores: TrainingScores | undefined;

  constructor(
    /** Reads the configured canvas: the anomaly map. */
    readonly map: FittedModel,
    /** Reads the shrunk canvas: the image score. */
    readonly score: FittedModel,
    readonly scoreSide: number,
  ) {
    this.method = map.method;
    this.input = { ...map.input, second: { height: score.input.height, width: score.input.width } };
    this.backbone = map.backbone;
    this.trainingScores = combinedScores(score.trainingScores, map.trainingScores);
  }

  /**
   * The map model's maps with the score model's scores, each the largest value of its map over the
   * picture outside ignore regions (`scoreOverKept`: the station does not take it again from the map).
   */
  async predict(batch: ImageBatch): Promise<Prediction[]> {
    const maps = await this.map.predict(batch);
    const shrunk = scoreBatch(batch, this.score.input);
    const scores = await this.score.predict(shrunk);
    const plane = shrunk.height * shrunk.width;
    return maps.map((p, i) => {
      const s = scores[i]!.map;
      const at = pictureArgmax(s, shrunk.width, shrunk.content?.[i], shrunk.ignore?.subarray(i * plane, (i + 1) * plane));
      return { score: s[at]!, map: p.map, scoreOverKept: true };
    });
  }

  /** Add-to-normal where the method has it: both models take the new images, in one pass. */
  async extended(normal: AsyncIterable<ImageBatch>, events: FitEvents = {}): Promise<TwoScaleModel> {
    const { map, score } = this;
    if (!map.extended || !score.extended) throw new RangeError(`adding normal images without a retrain is not possible for ${this.method} models`);
    const [m, s] = await bothFits(normal, this.score.input, (a) => map.extended!(a, events), (b) => score.extended!(b, {}));
    return new TwoScaleModel(m, s, this.scoreSide);
  }

  describe(): Record<string, unknown> {
    return { ...this.map.describe(), scoreSide: this.scoreSide, scoreCanvas: `${this.score.input.height}x${this.score.input.width}`, scoreModel: this.score.describe(), trainingScores: this.trainingScores };
  }

  serialize(): Uint8Array {
    const file = decodeTensorFile(this.map.serialize(), 'the map model');
    const scoreFile = decodeTensorFile(this.score.serialize(), 'the score model');
    const tensors = new Map<string, NamedTensor>(file.tensors);
    for (const [name, t] of scoreFile.tensors) tensors.set(SCORE_PREFIX + name, t);
    const config = { ...(file.meta['config'] as Record<string, unknown>), scoreSide: this.scoreSide };
    return encodeTensorFile({ meta: { ...file.meta, config, trainingScores: this.trainingScores, scoreModel: scoreFile.meta }, tensors });
  }
}

/** The model whose maps `model` gives as they are (a two-scale model's map model; any other model itself). */
export function mapModelOf(model: FittedModel): FittedModel {
  return model instanceof TwoScaleModel ? model.map : model;
}

/**
 * Fits (or extends) the map model on `train` and the score model on the same images at `scoreInput`
 * (the batches' second canvases, else theirs shrunk), reading `train` once. If either fails, the other stops at its next read and the first failure is thrown.
 */
async function bothFits(train: AsyncIterable<ImageBatch>, scoreInput: FittedModel['input'], fitMap: (train: AsyncIterable<ImageBatch>) => Promise<FittedModel>,
  fitScore: (train: AsyncIterable<ImageBatch>) => Promise<FittedModel>): Promise<[FittedModel, FittedModel]> {
  const tee = teeAsync(train, LOOKAHEAD);
  async function* shrunk(): AsyncGenerator<ImageBatch> {
    for await (const b of tee.branches[1]) yield scoreBatch(b, scoreInput);
  }
  // one fit failing stops the other at its next read: its model could not be used
  const guarded = (fit: Promise<FittedModel>) => fit.catch((err: unknown) => {
    tee.abort(err);
    throw err;
  });
  return Promise.all([guarded(fitMap(tee.branches[0])), guarded(fitScore(shrunk()))]);
}

/** `method` with an image score at a second, smaller scale (scoreSide > 0); unchanged otherwise. */
export function withScoreScale<C extends CanvasConfig>(method: Method<C>): Method<C & ScoreScaleSettings> {
  const plain = (config: C & ScoreScaleSettings): C => {
    const { scoreSide: _, ...rest } = config;
    return rest as unknown as C;
  };
  const scoreConfig = (config: C & ScoreScaleSettings): C => ({ ...plain(config), ...scoreCanvas(config) });
  return {
    ...method,
    defaults: { ...method.defaults, ...SCORE_SCALE_DEFAULTS },
    input: (config) => (config.scoreSide > 0 ? { ...method.input(plain(config)), second: scoreCanvas(config) } : method.input(plain(config))),
    validate(config) {
      checkScoreScale(config);
      method.validate?.(plain(config));
      if (config.scoreSide > 0) method.validate?.(scoreConfig(config));
    },
    async fit(train, trainCount, config, events: FitEvents = {}) {
      checkScoreScale(config);
      if (config.scoreSide === 0) return method.fit(train, trainCount, plain(config), events);
      // the job's progress follows the map model (the larger canvas), then the score model if it is still fitting
      let mapDone = false;
      const [map, score] = await bothFits(train, method.input(scoreConfig(config)),
        (a) => method.fit(a, trainCount, plain(config), events).finally(() => (mapDone = true)),
        (b) => method.fit(b, trainCount, scoreConfig(config), { onProgress: (p) => mapDone && events.onProgress?.(p) }));
      return new TwoScaleModel(map, score, config.scoreSide);
    },
    async deserialize(stored: StoredModel<C & ScoreScaleSettings>) {
      checkScoreScale(stored.config);
      if (stored.config.scoreSide === 0) return method.deserialize({ ...stored, config: plain(stored.config) });
      const scoreMeta = stored.meta['scoreModel'];
      if (typeof scoreMeta !== 'object' || scoreMeta === null || Array.isArray(scoreMeta)) {
        throw new ModelFormatError('meta', `${stored.source}: a model scored at a short side of ${stored.config.scoreSide} px needs its score model's meta (meta.scoreModel)`);
      }
      const mapTensors = new Map<string, NamedTensor>();
      const scoreTensors = new Map<string, NamedTensor>();
      for (const [name, t] of stored.tensors) {
        if (name.startsWith(SCORE_PREFIX)) scoreTensors.set(name.slice(SCORE_PREFIX.length), t);
        else mapTensors.set(name, t);
      }
      const meta = scoreMeta as Record<string, unknown>;
      const { trainingScores: _, ...rest } = stored;
      const map = await method.deserialize({ ...stored, config: plain(stored.config), tensors: mapTensors });
      const scoreScores = meta['trainingScores'] === undefined ? undefined : parseTrainingScores(meta['trainingScores']);
      if (meta['trainingScores'] !== undefined && !scoreScores) throw new ModelFormatError('meta', `${stored.source}: the score model's 'trainingScores' is malformed`);
      const score = await method.deserialize({ ...rest, meta, config: scoreConfig(stored.config), tensors: scoreTensors, source: `${stored.source} (score model)`, ...(scoreScores ? { trainingScores: scoreScores } : {}) });
      return new TwoScaleModel(map, score, stored.config.scoreSide);
    },
  };
}
