/**
 * The one door from the renderer to the API contract (src-main/api/contract.ts): its types, its zod
 * schemas and ApiError. That file imports only zod, so Vite bundles it; nothing else under src-main
 * may be imported by the renderer.
 */
import {
  ImportSummary as ImportSummarySchema, InspectionSummary as InspectionSummarySchema,
  type ImportSummary, type InspectionSummary,
} from '../../../src-main/api/contract.ts';

export { ApiError, EXTENDABLE_METHODS, REFINABLE_METHODS } from '../../../src-main/api/contract.ts';
export type {
  AnomalyMap, ApiErrorCode, ApiInput, ApiMethod, ApiOutput, ApiResponse, ArgusApi, DefectRecall, DefectType, Evaluation, EvaluationComparison, EvaluationRecord, Explanation, ExportResult, GridImage, Image, ImageCounts, ImportSummary, InspectionSummary, Job,
  JobProgress, Mask, Model, Picture, Product, ProjectInfo, Report, Result, Run, ScoreSet, StationEvent, Threshold,
} from '../../../src-main/api/contract.ts';

/** What an import job produced, once it has (the job's `result`). */
export function importSummaryOf(job: { readonly result: unknown }): ImportSummary | null {
  const parsed = ImportSummarySchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}

/** What an inspection job produced, once it has (the job's `result`). */
export function inspectionSummaryOf(job: { readonly result: unknown }): InspectionSummary | null {
  const parsed = InspectionSummarySchema.safeParse(job.result);
  return parsed.success ? parsed.data : null;
}
