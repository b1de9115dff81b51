import type { Method } from '../method.ts';
import { CFLOW_DEFAULTS, cflowInput, checkCflowConfig, type CflowConfig } from './defaults.ts';
import { deserializeCflow, fitCflow } from './model.ts';

export const cflow: Method<CflowConfig> = {
  name: 'cflow',
  defaults: CFLOW_DEFAULTS,
  input: cflowInput,
  validate: checkCflowConfig,
  fitStages: [{ stage: 'features', share: 0.05 }, { stage: 'train', share: 0.9 }, { stage: 'calibrate', share: 0.05 }],
  fit: fitCflow,
  deserialize: deserializeCflow,
};
