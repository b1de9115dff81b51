/** `argus cutpaste`: writes the F2PAD cut-paste evaluation set as an MVTec-layout folder. */
import { parseArgs } from 'node:util';
import { scanMvtec } from '../datasets/mvtec.ts';
import { buildCutPasteSet, writeCutPasteSet } from '../refine/cutpaste.ts';

export const CUTPASTE_USAGE = `argus cutpaste --data <dir> --out <dir> [--count 54] [--seed 0] [--structural f]

Writes the cut-paste set that f2pad-eval builds (same images for the same seed): <out>/train/good
(the images the detector is fitted on), <out>/test/cutpaste/*.png and
<out>/ground_truth/cutpaste/*_mask.png with the exact masks; the station can import it.`;

export async function runCutpaste(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      count: { type: 'string' },
      seed: { type: 'string' },
      structural: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(CUTPASTE_USAGE);
    return 0;
  }
  if (!values.data || !values.out) throw new RangeError('--data <dir> and --out <dir> are required');
  const count = values.count === undefined ? 54 : Number(values.count);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  const structural = values.structural === undefined ? 0 : Number(values.structural);
  for (const [name, v] of [['count', count], ['seed', seed], ['structural', structural]] as const) if (!Number.isFinite(v)) throw new RangeError(`--${name} expects a number`);
  const { split, samples } = await buildCutPasteSet(scanMvtec(values.data), { count, seed, structural });
  await writeCutPasteSet(values.out, split, samples);
  console.log(`wrote ${samples.length} cut-paste images and masks and ${split.fit.length} training images to ${values.out}`);
  return 0;
}
