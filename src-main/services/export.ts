/**
 * Model export: a stored model as a self-contained package (export/package.ts), accepted only when the
 * package's own runner reproduces the station on a golden set of the product's images. The station's
 * side of the golden set is scored exactly as an inspection scores (the worker's predict: the data
 * loader at the model's input, FittedModel.predict, the map cropped to the picture).
 */
import { readFileSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { ApiError } from '../api/contract.ts';
import { loadBatches } from '../datasets/loader.ts';
import { ExportError, writePackage, type GoldenImage, type PackageManifest } from '../export/package.ts';
import type { FittedModel } from '../methods/method.ts';
import { PatchCoreModel } from '../methods/patchcore/model.ts';
import { PositionNormModel } from '../methods/position-norm.ts';
import { TwoScaleModel } from '../methods/score-scale.ts';
import { TiledModel } from '../methods/tiling.ts';
import { decodeModel } from '../methods/persistence.ts';
import { images, models, products, thresholds, type Project } from '../store/index.ts';
import { cropMap, sniffImageFormat } from '../vision/index.ts';

/** Golden images per export: up to half good and half defective, from test and validation first. */
export const GOLDEN_IMAGES = 8;

/** Formats both runners decode (BMP is the station's own decoder only). */
const RUNNER_FORMATS = new Set(['png', 'jpeg', 'tiff', 'webp']);

/** The golden set: evenly spaced good and defective images, test/validation before training images. */
export function goldenImages(p: Project, productId: number, count = GOLDEN_IMAGES): images.Image[] {
  const readable = images.list(p, { productId }).filter((i) => {
    try {
      return RUNNER_FORMATS.has(sniffImageFormat(readFileSync(images.filePath(p, i)).subarray(0, 16)) ?? '');
    } catch {
      return false;
    }
  });
  const held = readable.filter((i) => i.split !== 'train');
  const pool = held.length > 0 ? held : readable;
  const spaced = (list: images.Image[], n: number) => {
    if (list.length <= n) return list;
    return Array.from({ length: n }, (_, k) => list[Math.floor((k * list.length) / n)]!);
  };
  const defective = pool.filter((i) => i.verdict === 'defective');
  const others = pool.filter((i) => i.verdict !== 'defective');
  const half = Math.min(defective.length, Math.ceil(count / 2));
  return [...spaced(others, count - half), ...spaced(defective, half)].slice(0, count);
}

/** A package searches PatchCore's memory bank by brute force (in every tile too): its reference is the exact search's values. */
function withExactSearch(model: FittedModel): FittedModel {
  if (model instanceof PatchCoreModel) return model.withSearch('exact');
  if (model instanceof PositionNormModel) {
    const inner = withExactSearch(model.inner);
    return inner === model.inner ? model : new PositionNormModel(inner, model.statistics, model.trainingScores);
  }
  if (!(model instanceof TiledModel)) return model;
  const inner = withExactSearch(model.inner);
  return inner === model.inner ? model : model.withInner(inner);
}

export interface ExportRequest {
  readonly modelId: number;
  /** Absolute path of the package folder: new, empty, or an earlier export of the same model. */
  readonly out: string;
}

export interface ExportSummary {
  readonly out: string;
  readonly manifest: PackageManifest;
}

export async function exportModel(p: Project, req: ExportRequest, onStep: (step: string, fraction: number) => void = () => undefined): Promise<ExportSummary> {
  if (!isAbsolute(req.out)) throw new ApiError('BAD_INPUT', `the export folder must be an absolute path, received '${req.out}'`);
  const record = models.get(p, req.modelId);
  const stored = await decodeModel(new Uint8Array(models.readModelBlob(p, record, 'model')), `model ${record.id}`);
  if (stored instanceof TwoScaleModel) {
    throw new ApiError('BAD_INPUT', `model ${record.id} takes its image score at a second scale (a short side of ${stored.scoreSide} px), which a package cannot run yet: export a model trained without it`);
  }
  const model = withExactSearch(stored);
  const list = goldenImages(p, record.productId);
  if (list.length === 0) throw new ApiError('BAD_INPUT', `product ${record.productId} has no PNG, JPEG, TIFF or WebP images for the parity self-test; import some first`);
  onStep('golden set (station)', 0);
  const byPath = new Map(list.map((i) => [images.filePath(p, i), i]));
  const golden: GoldenImage[] = [];
  const entries = [...byPath.keys()].map((path) => ({ path, split: 'test' as const, defectType: '', defective: false }));
  for await (const loaded of loadBatches(entries, model.input, { batchSize: 8 })) {
    const predictions = await model.predict(loaded.batch);
    predictions.forEach((pr, i) => {
      const path = loaded.entries[i]!.path;
      const image = byPath.get(path)!;
      const box = loaded.content[i]!;
      golden.push({
        path, name: basename(image.originalPath), label: image.verdict, score: pr.score,
        map: cropMap(pr.map, model.input.width, box.width, box.height), mapWidth: box.width, mapHeight: box.height,
      });
    });
  }
  const threshold = thresholds.latest(p, record.id);
  const product = products.get(p, record.productId);
  try {
    const manifest = await writePackage({
      out: req.out, model,
      identity: { id: record.id, version: record.version, productId: product.id, productName: product.name, projectName: p.name },
      threshold: threshold ? {
        version: threshold.version, imageThreshold: threshold.imageThreshold, reviewLow: threshold.reviewLow, reviewHigh: threshold.reviewHigh,
        pixelThreshold: threshold.pixelThreshold, note: threshold.note,
      } : null,
      golden, onStep,
    });
    return { out: req.out, manifest };
  } catch (err) {
    if (err instanceof ExportError) throw new ApiError('BAD_INPUT', err.message);
    throw err;
  }
}
