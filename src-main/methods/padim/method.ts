import type { Method } from '../method.ts';
import { PADIM_DEFAULTS, padimInput, type PadimConfig } from './defaults.ts';
import { fitPadim, deserializePadim } from './model.ts';

export const padim: Method<PadimConfig> = {
  name: 'padim',
  defaults: PADIM_DEFAULTS,
  input: padimInput,
  fit: fitPadim,
  deserialize: deserializePadim,
};
