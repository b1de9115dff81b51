/**
 * The station side of the contract: every call is looked up by name, its request validated against
 * the contract's schema, handed to its handler, and every failure turned into an ApiErrorBody with a
 * stable code. Transports (IPC, HTTP) only move ApiHost calls and events; they never see handlers.
 */
import { z } from 'zod';
import { API, ApiError, type ApiErrorBody, type ApiErrorCode, type ApiMethod, type ApiOutput, type ApiRequest, type ApiResponse, type StationEvent } from './contract.ts';
import { StoreError, type StoreErrorCode } from '../store/errors.ts';
import { ImageReadError } from '../vision/image.ts';

export type Handlers = { readonly [M in ApiMethod]: (request: ApiRequest<M>) => ApiOutput<M> | Promise<ApiOutput<M>> };

/** What a transport needs: answer a call, and a stream of events. */
export interface ApiHost {
  handle(method: string, input: unknown): Promise<ApiResponse<unknown>>;
  subscribe(listener: (event: StationEvent) => void): () => void;
}

const STORE_CODES: Record<StoreErrorCode, ApiErrorCode> = {
  PROJECT_NOT_FOUND: 'NOT_FOUND',
  PROJECT_EXISTS: 'CONFLICT',
  PROJECT_BUSY: 'PROJECT_BUSY',
  SCHEMA_TOO_NEW: 'PROJECT_CORRUPT',
  PROJECT_CORRUPT: 'PROJECT_CORRUPT',
  PATH_OUTSIDE_PROJECT: 'PATH_OUTSIDE_PROJECT',
  NOT_FOUND: 'NOT_FOUND',
  DUPLICATE_IMAGE: 'CONFLICT',
  MASK_MISMATCH: 'BAD_INPUT',
  INVALID_TRANSITION: 'CONFLICT',
  BLOB_MISSING: 'PROJECT_CORRUPT',
  BLOB_CORRUPT: 'PROJECT_CORRUPT',
  READ_ONLY: 'CONFLICT',
  CONSTRAINT: 'CONFLICT',
};

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'request'}: ${i.message}`).join('; ');
}

/** The error body a failure becomes; unexpected errors are INTERNAL and reported to `onInternal`. */
export function toErrorBody(err: unknown, onInternal?: (err: unknown) => void): ApiErrorBody {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err instanceof StoreError) return { code: STORE_CODES[err.code] ?? 'INTERNAL', message: err.message };
  if (err instanceof z.ZodError) return { code: 'INVALID_REQUEST', message: describeIssues(err) };
  if (err instanceof ImageReadError) return { code: 'BAD_INPUT', message: err.message };
  if (err instanceof TypeError || err instanceof RangeError) return { code: 'BAD_INPUT', message: err.message };
  onInternal?.(err);
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(API, name);
}

/** Validates and runs one call. Never throws: every outcome is an ApiResponse. */
export async function dispatch(handlers: Handlers, method: string, input: unknown, onInternal?: (err: unknown) => void): Promise<ApiResponse<unknown>> {
  if (!isApiMethod(method)) return { ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown API method '${String(method).slice(0, 100)}'` } };
  let parsed: z.ZodSafeParseResult<unknown>;
  try {
    parsed = API[method].input.safeParse(input ?? {});
  } catch (err) {
    // only in-process callers can pass objects whose getters or proxy traps throw; transports carry JSON
    return { ok: false, error: { code: 'INVALID_REQUEST', message: `${method}: the request cannot be read: ${err instanceof Error ? err.message : String(err)}` } };
  }
  if (!parsed.success) return { ok: false, error: { code: 'INVALID_REQUEST', message: `${method}: ${describeIssues(parsed.error)}` } };
  try {
    const handler = handlers[method] as (request: unknown) => unknown;
    return { ok: true, value: await handler(parsed.data) };
  } catch (err) {
    return { ok: false, error: toErrorBody(err, onInternal) };
  }
}
