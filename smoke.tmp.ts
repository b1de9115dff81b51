import { resolve } from 'node:path';
import { evenlySpaced, scanMvtec } from '/work/wt-refine-tiles/src-main/datasets/mvtec.ts';
import { setSessionLogger } from '/work/wt-refine-tiles/src-main/engine/session.ts';
import { buildCutPasteSet } from '/work/wt-refine-tiles/src-main/refine/cutpaste.ts';
import { detectorMapsAndThreshold, fitDetector, overlap } from '/work/wt-refine-tiles/src-main/refine/evaluate.ts';
import { createRefiner } from '/work/wt-refine-tiles/src-main/refine/refine.ts';
setSessionLogger(() => {});
const MPDD = '/work/shared/data/mpdd_metal_plate';
const det = (process.argv[2] ?? 'patchcore') as 'patchcore';
const settings = JSON.parse(process.argv[3] ?? '{}');
const t0 = performance.now();
const set = await buildCutPasteSet(scanMvtec(MPDD), { count: Number(process.env.N ?? 3), seed: 0 });
const { model, images } = await fitDetector(det, evenlySpaced(set.split.fit, 10), settings);
console.log('fit', ((performance.now() - t0) / 1000).toFixed(1), model.input, (model as any).grid);
const refiner = await createRefiner(model, { images });
console.log('frames', JSON.stringify(refiner.frames));
const { maps, threshold } = await detectorMapsAndThreshold(refiner, set.samples);
for (let i = 0; i < set.samples.length; i++) {
  const s = set.samples[i]!;
  const r = await refiner.refine(s.image, threshold, {}, maps[i]);
  const d = overlap(r.detectorMask.data, s.mask.data);
  const f = overlap(r.mask.data, s.mask.data);
  const k = s.image.width / refiner.modelInput(s.image).content.width;
  for (const fr of refiner.frames) {
    let t = 0, hit = 0, dt = 0;
    for (let y = Math.round(fr.owned.y0 * k); y < Math.min(s.image.height, Math.round(fr.owned.y1 * k)); y++) for (let x = Math.round(fr.owned.x0 * k); x < Math.min(s.image.width, Math.round(fr.owned.x1 * k)); x++) {
      const p = y * s.image.width + x;
      if (s.mask.data[p]) { t++; hit += r.mask.data[p]!; dt += r.detectorMask.data[p]!; }
    }
    if (t) console.log('  frame', JSON.stringify(fr.owned), 'truth px', t, 'refined recall', (hit / t).toFixed(2), 'detector recall', (dt / t).toFixed(2));
  }
  console.log(s.name, r.mask.width, r.mask.height, s.image.width, s.image.height, 'det', d.iou.toFixed(3), 'f2pad', f.iou.toFixed(3), 'P', f.precision!.toFixed(2), 'R', f.recall!.toFixed(2), r.seconds.toFixed(2), r.iterations);
}
await refiner.release();
console.log('total', ((performance.now() - t0) / 1000).toFixed(1));
