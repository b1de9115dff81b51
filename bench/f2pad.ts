/**
 * One F2PAD refinement benchmark in its own process (so peak RSS is this detector's alone): fit the
 * detector on a dataset's cut-paste fitting images (refine/cutpaste.ts), refine `--count` cut-paste
 * images at the detector's input size (256 px), print one JSON line with seconds per image (median,
 * worst), IoU before and after and peak RSS.
 */
import { parseArgs } from 'node:util';
import { activeProvider, setSessionLogger } from '../src-main/engine/session.ts';
import { evaluateF2pad, F2PAD_DETECTORS, type F2padDetector } from '../src-main/refine/evaluate.ts';

const { values } = parseArgs({
  options: {
    detector: { type: 'string', default: 'patchcore' },
    data: { type: 'string' },
    count: { type: 'string', default: '12' },
    'max-fit': { type: 'string' },
  },
});
const detector = values.detector as F2padDetector;
if (!F2PAD_DETECTORS.includes(detector)) throw new RangeError(`--detector expects ${F2PAD_DETECTORS.join(' | ')}`);
setSessionLogger(() => undefined);
const r = await evaluateF2pad(values.data!, {
  detector,
  cutpaste: { count: Number(values.count), seed: 0 },
  refine: {},
  ablations: ['none'],
  ...(values['max-fit'] ? { maxFit: Number(values['max-fit']) } : {}),
});
const full = r.ablations[0]!;
console.log(JSON.stringify({
  detector, dataset: r.name, images: r.count, fitImages: r.fitImages, fitSeconds: r.fitSeconds,
  secondsMedian: full.secondsMedian, secondsWorst: full.secondsWorst, iterationsMedian: full.iterationsMedian,
  detectorIou: r.detector.iou, f2padIou: r.f2pad.iou,
  peakRssMb: process.resourceUsage().maxRSS / 1024, provider: activeProvider(),
}));
