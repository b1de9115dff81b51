/**
 * What each input option buys on parts that are not square and defects that are small (issue 13
 * item 3): PatchCore (or --method) with stretch, letterbox, auto and native-resolution tiles, on
 * magnetic_tile (variable sizes), deeppcb (640x640, small defects) and long 4:1 strips cut from
 * mpdd_metal_plate and deeppcb (test/fixtures/strips.ts), and 2:1 high-resolution parts of two DeepPCB
 * boards side by side (deeppcb_pairs, 1280x640: test/fixtures/pairs.ts; not in the default sets), one
 * defect type of a set alone, `<set>@<type>` (magnetic_tile@crack: hairline cracks; test/fixtures/
 * defect-subset.ts), and long parts of three of its tiles at 320 px high (magnetic_tile@crack_triples,
 * about 3:1, hairline cracks on long parts). Pixel metrics at each image's own size, so settings with different map sizes
 * compare fairly.
 *
 *   npm run bench -- hard-set [--method patchcore] [--sets a,b] [--settings stretch,letterbox,auto,native]
 *                             [--max-train 120] [--max-test 200] [--json out.json] [--config '{json}']
 *
 * --config '{"scoreSide":256}' with tiled settings takes the image score at a second scale (methods/score-scale.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scanMvtec, evenlySpaced } from '../src-main/datasets/mvtec.ts';
import { formatTable, num, pct } from '../src-main/cli/table.ts';
import { evaluateDataset, sampleSizes, type EvaluationResult } from '../src-main/services/evaluation.ts';
import { sharedDataset } from '../test/fixtures/datasets.ts';
import { defectSubset } from '../test/fixtures/defect-subset.ts';
import { pairDataset } from '../test/fixtures/pairs.ts';
import { stripDataset } from '../test/fixtures/strips.ts';

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'patchcore' },
    sets: { type: 'string', default: 'magnetic_tile,mpdd_strips,deeppcb_strips,deeppcb' },
    settings: { type: 'string', default: 'stretch,letterbox,auto,native' },
    'max-train': { type: 'string', default: '120' },
    'max-test': { type: 'string', default: '200' },
    json: { type: 'string' },
    /** Method settings added to every setting's, as JSON (e.g. '{"coresetRatio":0.01}'). */
    config: { type: 'string', default: '{}' },
  },
});

/**
 * Strips, pairs, triples and one-defect-type subsets are made once into the temp folder and reused by
 * later runs; `<set>_<kind>` cuts or joins `<set>` (itself possibly a subset: magnetic_tile@crack_triples).
 */
async function dataset(name: string): Promise<string> {
  const m = /^(.*)_(strips|pairs|triples)$/.exec(name);
  if (m) {
    const root = join(tmpdir(), 'argus-hard-set', name);
    if (!existsSync(join(root, 'done'))) {
      mkdirSync(root, { recursive: true });
      const source = await dataset(m[1] === 'mpdd' ? 'mpdd_metal_plate' : m[1]!);
      if (m[2] === 'strips') await stripDataset(source, { parts: 4, root, maxImages: 60 });
      else if (m[2] === 'pairs') await pairDataset(source, { root, maxParts: 120 });
      // magnetic tiles vary in height: each is brought to 320 px, about their median; all 253 training
      // parts are made (--max-train 120 takes the same 120 a cap would)
      else await pairDataset(source, { root, perPart: 3, height: 320 });
      writeFileSync(join(root, 'done'), '');
    }
    return root;
  }
  const only = /^(.*)@(.+)$/.exec(name);
  if (only) return defectSubset(sharedDataset(only[1]!), only[2]!, join(tmpdir(), 'argus-hard-set', name));
  return sharedDataset(name);
}

const round32 = (v: number) => Math.max(32, Math.round(v / 32) * 32);

/** Native resolution: the median image size as the canvas, tiles of 256 px or the short side if smaller. */
async function nativeConfig(root: string): Promise<Record<string, unknown>> {
  const sizes = await sampleSizes(evenlySpaced(scanMvtec(root).train, 64));
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  const height = round32(med(sizes.map((s) => s.height)));
  const width = round32(med(sizes.map((s) => s.width)));
  const tileSize = Math.min(256, height, width);
  return { resize: 'tile', height, width, tileSize, tileOverlap: Math.round(tileSize / 8) };
}

const rows: string[][] = [];
const all: Array<{ set: string; setting: string; config: Record<string, unknown>; result: Omit<EvaluationResult, 'images'> }> = [];
for (const set of values.sets!.split(',')) {
  const root = await dataset(set);
  for (const setting of values.settings!.split(',')) {
    const config = { ...JSON.parse(values.config!), ...(setting === 'native' ? await nativeConfig(root) : { resize: setting }) };
    const started = performance.now();
    const r = await evaluateDataset(root, {
      method: values.method!, config, pixelMetricsAt: 'original',
      maxTrain: Number(values['max-train']), maxTest: Number(values['max-test']),
    });
    const scored = r.model['scoreSide'] ? `, scored at ${r.model['scoreCanvas']}` : '';
    const input = r.model['resize'] === 'tile' ? `tile ${r.model['height']}x${r.model['width']} / ${r.model['tileSize']} px (${r.model['tiles']} tiles${scored})` : `${r.model['resize']} ${r.model['height']}x${r.model['width']}`;
    rows.push([set, setting, input, `${r.nTrain}/${r.nTest}`, pct(r.imageAuroc), pct(r.pixelAuroc), pct(r.aupro), num(r.fitSeconds), num(r.msPerImage), num((performance.now() - started) / 1000)]);
    const { images: _, ...summary } = r;
    all.push({ set, setting, config, result: summary });
    console.error(`${set} ${setting}: ${rows.at(-1)!.slice(4, 7).join(' / ')}${r.inputReason ? ` (auto: ${r.inputReason})` : ''}`);
    if (values.json) writeFileSync(values.json, JSON.stringify(all, null, 1));
  }
}
console.log(formatTable(['set', 'setting', 'input', 'train/test', 'image AUROC', 'pixel AUROC', 'AUPRO@0.3', 'fit s', 'ms/img', 'total s'], rows));
