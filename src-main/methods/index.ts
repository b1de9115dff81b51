/** The method registry: every method by name. */
import type { Method } from './method.ts';
import { padim } from './padim/method.ts';
import { patchcore } from './patchcore/method.ts';

// Each method has its own config type; the registry erases it and callers merge options into defaults.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const METHODS: Record<string, Method<any>> = { patchcore, padim };

export type MethodName = 'patchcore' | 'padim';
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export class UnknownMethodError extends RangeError {
  constructor(name: string) {
    super(`unknown method '${name}'; available: ${METHOD_NAMES.join(', ')}`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getMethod(name: string): Method<any> {
  const m = METHODS[name];
  if (!m) throw new UnknownMethodError(name);
  return m;
}
