/** The method registry: every method by name. */
import type { Method } from './method.ts';
import { cflow } from './cflow/method.ts';
import { padim } from './padim/method.ts';
import { patchcore } from './patchcore/method.ts';
import { pefm, pfm } from './pfm/method.ts';
import { simplenet } from './simplenet/method.ts';
import { withPositionNorm } from './position-norm.ts';
import { withScoreScale } from './score-scale.ts';
import { withTiling } from './tiling.ts';

/**
 * A method whose configuration type is erased: callers merge option objects into its own defaults,
 * so the registry can hold methods with different configuration types.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type AnyMethod = Method<any>;

/**
 * Every method as the station runs it: with tiling (resize 'tile') for native resolution,
 * per-position normalisation (positionNorm) for aligned parts, and a tiled model's image score from a
 * smaller scale (scoreSide).
 */
const METHODS = {
  patchcore: withScoreScale(withPositionNorm(withTiling(patchcore))),
  padim: withScoreScale(withPositionNorm(withTiling(padim))),
  simplenet: withScoreScale(withPositionNorm(withTiling(simplenet))),
  pfm: withScoreScale(withPositionNorm(withTiling(pfm))),
  pefm: withScoreScale(withPositionNorm(withTiling(pefm))),
  cflow: withScoreScale(withPositionNorm(withTiling(cflow))),
} as const satisfies Record<string, AnyMethod>;

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export class UnknownMethodError extends RangeError {
  constructor(name: string) {
    super(`unknown method '${name}'; available: ${METHOD_NAMES.join(', ')}`);
  }
}

export function getMethod(name: string): AnyMethod {
  if (!(name in METHODS)) throw new UnknownMethodError(name);
  return METHODS[name as MethodName];
}
