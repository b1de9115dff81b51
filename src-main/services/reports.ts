/**
 * Reports: a validation report (one model and threshold version on the labelled test set) or an
 * inspection report (one batch, an inspect job), as PDF, HTML or CSV. The builders in src-main/reports
 * make one document; the PDF and HTML renderers draw that same document. Each report is stored as a
 * blob named by its sha256 in the reports table, with the manifest hash of the data it reports.
 * The CLI reaches this through the same API call (reports.create), so both give the same bytes.
 */
import { reports, type Project } from '../store/index.ts';
import type { ReportDocument } from '../reports/document.ts';
import { buildInspectionReport } from '../reports/inspection.ts';
import { renderHtml } from '../reports/render-html.ts';
import { renderPdf } from '../reports/render-pdf.ts';
import { buildValidationReport } from '../reports/validation.ts';

/** What reports.create asks for (the API fills in kind 'inspection' and empty sign-off names). */
export interface ReportRequest {
  readonly modelId: number;
  readonly kind?: reports.ReportKind;
  readonly format: reports.ReportFormat;
  readonly title?: string | undefined;
  /** The inspect job of an inspection report (default: the model's latest with results). */
  readonly jobId?: number | undefined;
  /** The threshold version of a validation report (default: the model's latest). */
  readonly thresholdId?: number | undefined;
  readonly preparedBy?: string;
  readonly reviewedBy?: string;
  readonly role?: string;
}

async function render(format: reports.ReportFormat, document: () => Promise<ReportDocument>, csv: () => string): Promise<Buffer> {
  if (format === 'csv') return Buffer.from(csv(), 'utf8');
  const doc = await document();
  return format === 'pdf' ? renderPdf(doc) : Buffer.from(renderHtml(doc), 'utf8');
}

export async function createReport(p: Project, input: ReportRequest): Promise<reports.Report> {
  const signOff = { preparedBy: input.preparedBy ?? '', reviewedBy: input.reviewedBy ?? '', role: input.role ?? '' };
  const built = (input.kind ?? 'inspection') === 'validation'
    ? buildValidationReport(p, { modelId: input.modelId, signOff, ...(input.thresholdId !== undefined ? { thresholdId: input.thresholdId } : {}), ...(input.title !== undefined ? { title: input.title } : {}) })
    : buildInspectionReport(p, { modelId: input.modelId, signOff, ...(input.jobId !== undefined ? { jobId: input.jobId } : {}), ...(input.title !== undefined ? { title: input.title } : {}) });
  const data = await render(input.format, built.document, built.csv);
  return reports.add(p, {
    productId: built.productId, modelId: built.modelId, thresholdId: built.thresholdId, jobId: 'jobId' in built ? built.jobId : null,
    kind: input.kind ?? 'inspection', format: input.format, title: built.title, data, manifestSha256: built.manifestSha256,
  });
}

export const MEDIA_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', csv: 'text/csv; charset=utf-8', pdf: 'application/pdf' };
