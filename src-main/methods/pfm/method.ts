import type { Method } from '../method.ts';
import { checkPfmConfig, PEFM_DEFAULTS, PFM_DEFAULTS, pfmInput, type PfmConfig } from './defaults.ts';
import { deserializePfm, fitPfm } from './model.ts';

const FIT_STAGES = [{ stage: 'features', share: 0.05 }, { stage: 'train', share: 0.95 }] as const;

/** PFM / MB-PFM (METHODS.md §2): bidirectional feature mapping MobileNetV2 ↔ MobileNetV1 at three levels. */
export const pfm: Method<PfmConfig> = {
  name: 'pfm',
  defaults: PFM_DEFAULTS,
  input: pfmInput,
  validate: checkPfmConfig,
  fitStages: FIT_STAGES,
  fit: (train, count, config, events) => fitPfm('pfm', PFM_DEFAULTS, train, count, config, events),
  deserialize: (stored) => deserializePfm('pfm', stored),
};

/** PEFM (METHODS.md §3): PFM with the 2-D position encoding added to the mapping inputs. */
export const pefm: Method<PfmConfig> = {
  name: 'pefm',
  defaults: PEFM_DEFAULTS,
  input: pfmInput,
  validate: checkPfmConfig,
  fitStages: FIT_STAGES,
  fit: (train, count, config, events) => fitPfm('pefm', PEFM_DEFAULTS, train, count, config, events),
  deserialize: (stored) => deserializePfm('pefm', stored),
};
