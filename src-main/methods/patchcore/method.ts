import type { Method } from '../method.ts';
import { PATCHCORE_DEFAULTS, type PatchCoreConfig } from './defaults.ts';
import { fitPatchCore } from './model.ts';

export const patchcore: Method<PatchCoreConfig> = {
  name: 'patchcore',
  defaults: PATCHCORE_DEFAULTS,
  input: (c) => ({ height: c.height, width: c.width, filter: 'bilinear' }),
  fit: fitPatchCore,
};
