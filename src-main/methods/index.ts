/** The method registry: every method by name. */
import type { Method } from './method.ts';
import { cflow } from './cflow/method.ts';
import { padim } from './padim/method.ts';
import { patchcore } from './patchcore/method.ts';
import { pefm, pfm } from './pfm/method.ts';
import { simplenet } from './simplenet/method.ts';
import { withPositionNorm } from './position-norm.ts';
import { withTiling } from './tiling.ts';

/**
 * A method whose configuration type is erased: callers merge option objects into its own defaults,
 * so the registry can hold methods with different configuration types.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type AnyMethod = Method<any>;

/**
 * Every method as the station runs it: with tiling (resize 'tile') for native resolution, and
 * per-position normalisation (positionNorm) for aligned parts.
 */
const METHODS = {
  patchcore: withPositionNorm(withTiling(patchcore)),
  padim: withPositionNorm(withTiling(padim)),
  simplenet: withPositionNorm(withTiling(simplenet)),
  pfm: withPositionNorm(withTiling(pfm)),
  pefm: withPositionNorm(withTiling(pefm)),
  cflow: withPositionNorm(withTiling(cflow)),
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
