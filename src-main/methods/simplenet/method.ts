import type { Method } from '../method.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from './defaults.ts';
import { fitSimpleNet, deserializeSimpleNet } from './model.ts';

export const simplenet: Method<SimpleNetConfig> = {
  name: 'simplenet',
  defaults: SIMPLENET_DEFAULTS,
  input: simplenetInput,
  fitStages: [{ stage: 'features', share: 0.1 }, { stage: 'train', share: 0.9 }],
  fit: fitSimpleNet,
  deserialize: deserializeSimpleNet,
};
