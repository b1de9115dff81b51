/** `argus infer`: score images with a saved model, write a heatmap overlay PNG per image, time it. */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadBatches } from '../datasets/loader.ts';
import type { DatasetImage } from '../datasets/mvtec.ts';
import type { FittedModel, Prediction } from '../methods/method.ts';
import { decodeModel, readModelFile } from '../methods/persistence.ts';
import { models, openProject } from '../store/index.ts';
import { SimpleNetModel } from '../methods/simplenet/model.ts';
import { cropMap, overlayHeatmap, readImage, resizeMap, writePng } from '../vision/index.ts';

export const INFER_USAGE = `argus infer --model <file> [--out <dir>] [--batch n] <image>...
argus infer --project <dir> --model <id> [--out <dir>] [--batch n] <image>...

Scores images with a model saved by \`argus eval --save-model <file>\` (any method), or with model <id>
of a project (as \`argus train\` made it; the project is only read), writes
<out>/<name>.heatmap.png per image (the anomaly map over the image at its own size, blue = normal to
red = anomalous) and prints each image score and the model time per image (decoding and PNG writing
excluded). Colour range: SimpleNet, -margin to +margin of the discriminator; PatchCore and PaDiM, from
the median pixel score of the training images (blue) to twice their largest pixel score's distance
above it (red), so the training images' worst pixel sits mid-scale.

  --model <file>   saved model (Argus tensor file, see src-main/methods/model-file.ts)
  --project <dir>  read model <id> from this project instead of a file
  --out <dir>      output folder (default: heatmaps)
  --batch <n>      images per model call (default 1)`;

/**
 * The heatmap colour range of a model: SimpleNet's discriminator margins; otherwise from the training
 * scores recorded at fit time; for a model without them, this prediction's own map range.
 */
export function heatmapRange(model: FittedModel, prediction: Prediction): { low: number; high: number } {
  if (model instanceof SimpleNetModel) return { low: -model.config.margin, high: model.config.margin };
  const t = model.trainingScores;
  if (t) return { low: t.pixelMedian, high: t.pixelMedian + 2 * (t.pixelMax - t.pixelMedian) };
  let low = Infinity;
  let high = -Infinity;
  for (const v of prediction.map) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return { low, high };
}

/** Model `id` of the project in `dir`, read without taking the project's writer lock. */
async function readProjectModel(dir: string, id: string): Promise<FittedModel> {
  if (!/^\d+$/.test(id)) throw new RangeError(`with --project, --model expects a model id, received '${id}'`);
  const project = openProject(dir, { readonly: true });
  try {
    const stored = models.get(project, Number(id));
    return await decodeModel(models.readModelBlob(project, stored, 'model'), `model ${id} of ${project.dir}`);
  } finally {
    project.close();
  }
}

export async function runInfer(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, project: { type: 'string' }, out: { type: 'string', default: 'heatmaps' }, batch: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(INFER_USAGE);
    return 0;
  }
  if (!values.model || positionals.length === 0) {
    console.error(INFER_USAGE);
    return 2;
  }
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch expects a positive integer, received '${values.batch}'`);
  const model = values.project === undefined ? await readModelFile(values.model) : await readProjectModel(values.project, values.model);
  mkdirSync(values.out!, { recursive: true });
  const entries: DatasetImage[] = positionals.map((path) => ({ path, split: 'test', defectType: '', defective: false }));
  let modelMs = 0;
  let scored = 0;
  let failed = 0;
  const seen = new Set<string>();
  for await (const loaded of loadBatches(entries, model.input, { batchSize, onSkip: (i) => { failed++; console.error(`${i.path}: ${i.problem}`); } })) {
    const start = performance.now();
    const predictions = await model.predict(loaded.batch);
    const ms = performance.now() - start;
    modelMs += ms;
    for (const [i, p] of predictions.entries()) {
      const entry = loaded.entries[i]!;
      const { width, height } = loaded.sizes[i]!;
      const box = loaded.content[i]!;
      const map = resizeMap(cropMap(p.map, model.input.width, box.width, box.height), box.width, box.height, width, height);
      const image = await readImage(entry.path);
      let name = basename(entry.path, extname(entry.path));
      while (seen.has(name)) name += '_';
      seen.add(name);
      const out = join(values.out!, `${name}.heatmap.png`);
      await writePng(out, overlayHeatmap(image, map, heatmapRange(model, p)), width, height);
      console.log(`${entry.path}\tscore ${p.score.toFixed(4)}\t${(ms / predictions.length).toFixed(1)} ms\t${out}`);
      scored++;
    }
  }
  if (scored > 0) console.log(`${scored} image(s), ${(modelMs / scored).toFixed(1)} ms per image (model, batch ${batchSize})`);
  return failed > 0 ? 1 : 0;
}
