import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { imageBatches, loadBatches } from '../../src-main/datasets/loader.ts';
import { scanMvtec } from '../../src-main/datasets/mvtec.ts';
import { setSessionLogger } from '../../src-main/engine/session.ts';
import { getMethod } from '../../src-main/methods/index.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from '../../src-main/methods/simplenet/defaults.ts';
import { fitSimpleNet, openEmbedder, SimpleNetModel } from '../../src-main/methods/simplenet/model.ts';
import { simplenet } from '../../src-main/methods/simplenet/method.ts';
import type { FitProgress } from '../../src-main/methods/method.ts';
import { readModelFile, writeModelFile } from '../../src-main/methods/persistence.ts';
import { evaluateDataset } from '../../src-main/services/evaluation.ts';
import { readImage } from '../../src-main/vision/index.ts';
import { runInfer } from '../../src-main/cli/infer.ts';
import { sharedDataset, subsetDataset } from '../fixtures/datasets.ts';

beforeAll(() => setSessionLogger(() => {}));

// 128 px and a few steps keep the suite fast; the method is the same at 256 and 160 epochs.
const small: SimpleNetConfig = { ...SIMPLENET_DEFAULTS, height: 128, width: 128, batchSize: 2, epochs: 3 };

describe('SimpleNet on real metal-plate images (MPDD subset)', () => {
  const data = subsetDataset(sharedDataset('mpdd_metal_plate'), { train: 6, testGood: 2, testDefect: 3 });
  let savedModel: string | undefined;

  it('trains a few steps with decreasing loss and produces finite maps of the right size', async () => {
    const ds = scanMvtec(data);
    const input = simplenetInput(small);
    const progress: FitProgress[] = [];
    const model = await fitSimpleNet(imageBatches(loadBatches(ds.train, input, { batchSize: 4 })), ds.train.length, small, {
      onProgress: (p) => progress.push(p),
    });
    const t = model.training!;
    expect(t.steps).toBe(9);
    expect(t.stepsPerEpoch).toBe(3);
    expect(t.epochLosses.length).toBe(3);
    expect(t.epochLosses[2]!).toBeLessThan(t.epochLosses[0]!);
    // the declared stages, in order; training steps carry their loss and the time left
    const training = progress.filter((p) => p.stage === 'train');
    expect(new Set(progress.map((p) => p.stage))).toEqual(new Set(simplenet.fitStages.map((s) => s.stage)));
    expect(training.at(-1)).toMatchObject({ done: 9, total: 9 });
    expect(training.every((p) => Number.isFinite(p.loss) && (p.etaSeconds ?? -1) >= 0)).toBe(true);
    expect(t.epochPTrue?.length).toBe(3);
    expect(t.patchesPerImage).toBe(16 * 16);

    // the noise σ is noiseRelative × the RMS per-dimension standard deviation of the training patch features
    const embedder = await openEmbedder(small);
    const D = small.targetDim;
    const sum = new Float64Array(D);
    const sumSq = new Float64Array(D);
    let rows = 0;
    for await (const b of loadBatches(ds.train, input, { batchSize: 4 })) {
      const { features } = await embedder.embed(b.batch);
      for (let r = 0; r < features.length; r += D, rows++) {
        for (let j = 0; j < D; j++) {
          sum[j]! += features[r + j]!;
          sumSq[j]! += features[r + j]! ** 2;
        }
      }
    }
    let variance = 0;
    for (let j = 0; j < D; j++) variance += (sumSq[j]! / rows - (sum[j]! / rows) ** 2) / D;
    expect(t.featureSpread).toBeCloseTo(Math.sqrt(variance), 4);
    expect(t.noiseStd).toBeCloseTo(small.noiseRelative * Math.sqrt(variance), 4);

    const test = await loadBatches(ds.test.slice(0, 3), input, { batchSize: 3 }).next();
    const predictions = await model.predict(test.value!.batch);
    expect(predictions.length).toBe(3);
    for (const p of predictions) {
      expect(p.map.length).toBe(128 * 128);
      expect(p.map.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(p.score)).toBe(true);
      // the image score is the worst patch, before upsampling and blurring (which can only lower it)
      expect(Math.max(...p.map)).toBeLessThanOrEqual(p.score + 1e-5);
    }

    // a saved model predicts exactly what the fitted one does
    const path = join(mkdtempSync(join(tmpdir(), 'argus-sn-')), 'model.argus');
    writeModelFile(path, model);
    const loaded = await readModelFile(path);
    expect(loaded).toBeInstanceOf(SimpleNetModel);
    const again = await loaded.predict(test.value!.batch);
    again.forEach((p, i) => expect(p.score).toBe(predictions[i]!.score));
    expect((loaded as SimpleNetModel).training?.steps).toBe(9);
    savedModel = path;
  });

  it('argus infer writes a heatmap overlay per image at the image size and reports its time', async () => {
    expect(savedModel).toBeDefined();
    const images = scanMvtec(data).test.slice(0, 2).map((e) => e.path);
    const out = mkdtempSync(join(tmpdir(), 'argus-heat-'));
    const lines: string[] = [];
    const log = console.log;
    console.log = (m: string) => lines.push(m);
    try {
      expect(await runInfer(['--model', savedModel!, '--out', out, '--batch', '2', ...images])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(readdirSync(out).sort()).toEqual(images.map((p) => `${basename(p, extname(p))}.heatmap.png`).sort());
    for (const p of images) {
      const original = await readImage(p);
      const heat = await readImage(join(out, `${basename(p, extname(p))}.heatmap.png`));
      expect([heat.width, heat.height, heat.channels]).toEqual([original.width, original.height, 3]);
    }
    expect(lines.at(-1)).toMatch(/^2 image\(s\), [\d.]+ ms per image \(model, batch 2\)$/);
  });

  it('runs through argus eval as a registered method', async () => {
    expect(getMethod('simplenet').name).toBe('simplenet');
    const r = await evaluateDataset(data, { method: 'simplenet', config: { height: 128, width: 128, batchSize: 3, epochs: 1 }, batchSize: 3 });
    expect(r.nTrain).toBe(6);
    expect(r.nTest).toBe(5);
    expect(Number.isFinite(r.imageAuroc)).toBe(true);
    expect(Number.isFinite(r.pixelAuroc)).toBe(true);
    expect((r.model['training'] as { steps: number }).steps).toBe(2);
  });
});
