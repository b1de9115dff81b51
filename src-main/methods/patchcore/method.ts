import type { Method } from '../method.ts';
import { PATCHCORE_DEFAULTS, patchcoreInput, type PatchCoreConfig } from './defaults.ts';
import { fitPatchCore, deserializePatchCore } from './model.ts';

export const patchcore: Method<PatchCoreConfig> = {
  name: 'patchcore',
  defaults: PATCHCORE_DEFAULTS,
  input: patchcoreInput,
  fitStages: [{ stage: 'features', share: 0.6 }, { stage: 'coreset', share: 0.4 }],
  validate(config) {
    if (config.search !== 'exact' && config.search !== 'approximate') throw new RangeError(`search must be 'exact' or 'approximate'; received ${JSON.stringify(config.search)}`);
  },
  fit: fitPatchCore,
  deserialize: deserializePatchCore,
};
