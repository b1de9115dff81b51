export { backward, prune, type BackwardOptions } from './backward.ts';
export { GRADIENT_RULES } from './rules.ts';
export { GradientError, type FloatType, type GradContext, type GradRule } from './emit.ts';
export { batchNormRelu, lowerComposites } from './composites.ts';
