import type { Method } from '../method.ts';
import { SIMPLENET_DEFAULTS, simplenetInput, type SimpleNetConfig } from './defaults.ts';
import { fitSimpleNet, deserializeSimpleNet } from './model.ts';

export const simplenet: Method<SimpleNetConfig> = {
  name: 'simplenet',
  defaults: SIMPLENET_DEFAULTS,
  input: simplenetInput,
  fit: fitSimpleNet,
  deserialize: deserializeSimpleNet,
};
