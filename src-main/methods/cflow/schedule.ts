import type { CflowConfig } from './defaults.ts';

/**
 * The official learning rate (METHODS.md §7.4) at a training step of one flow: per meta-epoch e the
 * cosine lr_e = η_min + (lr − η_min)(1 + cos(π e/E))/2 with η_min = lr·0.1³; during the first
 * `warmupEpochs` meta-epochs a linear ramp from lr/10 to the cosine value at e = warmupEpochs. The
 * official ramp advances per image batch; here per optimiser step (finer, same end points).
 */
export function learningRate(c: Pick<CflowConfig, 'lr' | 'epochs' | 'subEpochs' | 'warmupEpochs'>, step: number, stepsPerSubEpoch: number): number {
  const etaMin = c.lr * 0.1 ** 3;
  const cosine = (e: number) => etaMin + ((c.lr - etaMin) * (1 + Math.cos((Math.PI * e) / c.epochs))) / 2;
  const perMeta = c.subEpochs * stepsPerSubEpoch;
  const meta = Math.floor(step / perMeta);
  if (meta < c.warmupEpochs) {
    const from = c.lr / 10;
    const p = step / (c.warmupEpochs * perMeta);
    return from + p * (cosine(c.warmupEpochs) - from);
  }
  return cosine(meta);
}
