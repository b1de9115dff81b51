import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { auroc } from '../../src-main/metrics/auroc.ts';
import { f1Max } from '../../src-main/metrics/f1max.ts';

/** Per-image scores and image AUROC written by the official PatchCore / PaDiM code (../shared/reference). */
const referenceDir = fileURLToPath(new URL('../../../shared/reference/', import.meta.url));

interface ReferenceScores {
  test: Array<{ path: string; label: number; norm_score: number; raw_score?: number }>;
}

function load(method: string, dataset: string): { scores: ReferenceScores; imageAuroc: number } {
  const read = (file: string): unknown => JSON.parse(readFileSync(`${referenceDir}${method}/${dataset}/${file}`, 'utf8'));
  const result = read('result.json') as { image_auroc: number };
  return { scores: read('scores.json') as ReferenceScores, imageAuroc: result.image_auroc };
}

/**
 * F1-max of the norm_score column, from a numpy port of torchmetrics' precision-recall curve +
 * anomalib F1Max (python3 + numpy, float64) over the same JSON files.
 */
const cases = [
  { method: 'patchcore', dataset: 'magnetic_tile', f1: 0.86269430046813589, threshold: 0.17424662411212921 },
  { method: 'patchcore', dataset: 'mpdd_metal_plate', f1: 0.99999999995, threshold: 0.43994614481925964 },
  { method: 'patchcore', dataset: 'deeppcb', f1: 0.70802919703393907, threshold: 0.15574349462985992 },
  { method: 'padim', dataset: 'magnetic_tile', f1: 0.85348837204350025, threshold: 0.17947453260421753 },
  { method: 'padim', dataset: 'mpdd_metal_plate', f1: 0.84523809518929272, threshold: 0.27104765176773071 },
  { method: 'padim', dataset: 'deeppcb', f1: 0.67368421048076332, threshold: 0.42559441924095154 },
];

describe.skipIf(!existsSync(referenceDir))('metrics on the official reference scores', () => {
  for (const { method, dataset, f1, threshold } of cases) {
    it(`auroc reproduces ${method}'s image AUROC on ${dataset} to 1e-9`, () => {
      const { scores, imageAuroc } = load(method, dataset);
      const labels = scores.test.map((t) => t.label);
      expect(Math.abs(auroc(scores.test.map((t) => t.norm_score), labels) - imageAuroc)).toBeLessThan(1e-9);
      if (scores.test[0]?.raw_score !== undefined) {
        // Normalisation is monotone, so the raw scores rank the same.
        const raw = scores.test.map((t) => t.raw_score!);
        expect(Math.abs(auroc(raw, labels) - imageAuroc)).toBeLessThan(1e-9);
      }
    });

    it(`f1Max on ${method} / ${dataset} image scores matches the numpy port`, () => {
      const { scores } = load(method, dataset);
      const result = f1Max(
        scores.test.map((t) => t.norm_score),
        scores.test.map((t) => t.label),
      );
      expect(result.f1).toBeCloseTo(f1, 12);
      expect(result.threshold).toBe(threshold);
      expect(result.precision).toBeGreaterThan(0);
      expect(result.recall).toBeGreaterThan(0);
    });
  }
});
