export { applyOptimizer, buildUpdateGraph, type Optimizer, type ParamSpec, type Slot, type UpdateGraph, UpdateEmitter } from './optimizer.ts';
export { sgd } from './sgd.ts';
export { adam, adamw } from './adam.ts';
export { adan } from './adan.ts';
