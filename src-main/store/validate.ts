/**
 * Argument checks at the store's boundary, one message format for all (sharp's
 * invalidParameterError): "expected X for NAME, received VALUE". Wrong types are TypeError,
 * out-of-range values RangeError.
 */

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `${String(v)} of type ${typeof v}`;
}

export function invalidParameterError(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`expected ${expected} for ${name}, received ${describe(actual)}`);
}

export function checkId(name: string, v: unknown): number {
  if (typeof v !== 'number') throw invalidParameterError(name, 'an integer id', v);
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`expected a positive integer id for ${name}, received ${v}`);
  return v;
}

export function checkOptionalId(name: string, v: unknown): number | null {
  return v === undefined || v === null ? null : checkId(name, v);
}

export function checkInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw invalidParameterError(name, 'an integer', v);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`expected an integer in [${min}, ${max}] for ${name}, received ${v}`);
  return v;
}

export function checkFinite(name: string, v: unknown): number {
  if (typeof v !== 'number') throw invalidParameterError(name, 'a number', v);
  if (!Number.isFinite(v)) throw new RangeError(`expected a finite number for ${name}, received ${v}`);
  return v;
}

export function checkOptionalFinite(name: string, v: unknown): number | null {
  return v === undefined || v === null ? null : checkFinite(name, v);
}

export function checkString(name: string, v: unknown, { min = 0, max = 10_000 } = {}): string {
  if (typeof v !== 'string') throw invalidParameterError(name, 'a string', v);
  if (v.length < min || v.length > max) throw new RangeError(`expected a string of ${min} to ${max} characters for ${name}, received ${describe(v)}`);
  return v;
}

export function checkOneOf<T extends string>(name: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string') throw invalidParameterError(name, `one of ${values.join(', ')}`, v);
  if (!(values as readonly string[]).includes(v)) throw new RangeError(`expected one of ${values.join(', ')} for ${name}, received ${describe(v)}`);
  return v as T;
}

export function checkBytes(name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalidParameterError(name, 'a Uint8Array (or Buffer)', v);
  return v;
}

/** JSON text of a plain value; throws TypeError for values JSON cannot hold (functions, cycles, NaN). */
export function toJson(name: string, v: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v, (_k, x: unknown) => {
      if (typeof x === 'number' && !Number.isFinite(x)) throw new RangeError(`${x} is not valid JSON`);
      return x;
    });
  } catch (err) {
    throw invalidParameterError(name, `a JSON-serialisable value (${(err as Error).message})`, v);
  }
  if (text === undefined) throw invalidParameterError(name, 'a JSON-serialisable value', v);
  return text;
}
