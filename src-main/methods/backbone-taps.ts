/**
 * A method's settings on a backbone other than its default. Its default taps name that backbone's
 * outputs (MobileNetV2's feat_s8_exp, feat_s16_exp); on another backbone, unless the settings name
 * taps of their own, they become the outputs of the same strides (features/backbones.ts:
 * equivalentTaps), so choosing a backbone is all it takes.
 */
import { equivalentTaps, getBackbone } from '../features/backbones.ts';

export function withBackboneTaps<C extends object>(config: C, defaults: object): C {
  const [c, d] = [config as Record<string, unknown>, defaults as Record<string, unknown>];
  const taps = d['taps'];
  const backbone = c['backbone'];
  if (!Array.isArray(taps) || typeof backbone !== 'string' || backbone === d['backbone'] || !sameList(c['taps'], taps)) return config;
  return { ...config, taps: equivalentTaps(taps, getBackbone(String(d['backbone'])), getBackbone(backbone)) };
}

function sameList(a: unknown, b: readonly unknown[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
}
