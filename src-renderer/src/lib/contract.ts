/**
 * The one door from the renderer to the API contract (src-main/api/contract.ts): its types, its zod
 * schemas and ApiError. That file imports only zod, so Vite bundles it; nothing else under src-main
 * may be imported by the renderer.
 */
import { z } from 'zod';
import { ImportSummary as ImportSummarySchema } from '../../../src-main/api/contract.ts';

export { ApiError } from '../../../src-main/api/contract.ts';
export type {
  ApiErrorCode, ApiInput, ApiMethod, ApiOutput, ApiResponse, ArgusApi, Image, Job, JobProgress, Mask, Model,
  Picture, Product, ProjectInfo, Report, Result, ScoreSet, StationEvent, Threshold,
} from '../../../src-main/api/contract.ts';
export { ImportSummarySchema };
export type ImportSummary = z.output<typeof ImportSummarySchema>;

/** What an import job produced, once it has (the job's `result`). */
export function importSummaryOf(job: { readonly result: unknown }): ImportSummary | null {
  const parsed = ImportSummarySchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}

/** An inspection job's result (src-main/services/inspection.ts; the contract leaves it `unknown`). */
const InspectionSummarySchema = z.object({
  inspected: z.number(), pass: z.number(), review: z.number(), fail: z.number(), unjudged: z.number(),
  skipped: z.array(z.object({ path: z.string(), problem: z.string() })),
  import: ImportSummarySchema.optional(),
});
export type InspectionSummary = z.output<typeof InspectionSummarySchema>;

export function inspectionSummaryOf(job: { readonly result: unknown }): InspectionSummary | null {
  const parsed = InspectionSummarySchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}
