import type { Method } from '../method.ts';
import { PADIM_DEFAULTS, padimInput, type PadimConfig } from './defaults.ts';
import { fitPadim, deserializePadim } from './model.ts';

export const padim: Method<PadimConfig> = {
  name: 'padim',
  defaults: PADIM_DEFAULTS,
  input: padimInput,
  fitStages: [{ stage: 'features', share: 0.85 }, { stage: 'covariance', share: 0.15 }],
  fit: fitPadim,
  deserialize: deserializePadim,
};
