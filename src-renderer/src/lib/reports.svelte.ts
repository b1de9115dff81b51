/**
 * Reports from the screens: the sign-off names (kept on this PC, filled in on the Reports screen and
 * used wherever a report is made) and saving a stored report as a file.
 */
import { api } from './api.ts';
import type { ApiInput, Report } from './contract.ts';
import { downloadBase64, safeFileName } from './download.ts';

const KEY = 'argus.reportSignOff';

function load(): { preparedBy: string; reviewedBy: string; role: string } {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Record<string, unknown>;
    const s = (x: unknown) => (typeof x === 'string' ? x : '');
    return { preparedBy: s(v['preparedBy']), reviewedBy: s(v['reviewedBy']), role: s(v['role']) };
  } catch {
    return { preparedBy: '', reviewedBy: '', role: '' };
  }
}

/** Names printed in a report's sign-off block. */
export const signOff = $state(load());

export function rememberSignOff(): void {
  localStorage.setItem(KEY, JSON.stringify(signOff));
}

export async function saveReport(report: Report): Promise<void> {
  const content = await api.call('reports.content', { id: report.id });
  downloadBase64(content.base64, content.mediaType, safeFileName(report.title, report.format));
}

/** Creates a report with the remembered sign-off names and saves it as a file. */
export async function createAndSave(request: Omit<ApiInput<'reports.create'>, 'preparedBy' | 'reviewedBy' | 'role'>): Promise<Report> {
  const report = await api.call('reports.create', { ...request, ...signOff });
  await saveReport(report);
  return report;
}
