/**
 * The one door from the renderer to the API contract (src-main/api/contract.ts): its types, its zod
 * schemas and ApiError. That file imports only zod, so Vite bundles it; nothing else under src-main
 * may be imported by the renderer.
 */
import type { z } from 'zod';
import { ImportSummary as ImportSummarySchema } from '../../../src-main/api/contract.ts';

export { ApiError } from '../../../src-main/api/contract.ts';
export type {
  ApiErrorCode, ApiInput, ApiMethod, ApiOutput, ApiResponse, ArgusApi, Image, Job, JobProgress, Mask, Model,
  Picture, Product, ProjectInfo, Report, Result, ScoreSet, StationEvent, Threshold,
} from '../../../src-main/api/contract.ts';
export { ImportSummarySchema };
export type ImportSummary = z.output<typeof ImportSummarySchema>;

/** What an import job produced, once it has (the job's `result`; not yet in the contract's Job type). */
export function importSummaryOf(job: { readonly result?: unknown }): ImportSummary | null {
  const parsed = ImportSummarySchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}
