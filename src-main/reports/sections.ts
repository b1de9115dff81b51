/**
 * Sections both reports share: the model (method, backbone, configuration, training data and time),
 * the threshold policy, result thumbnails with overlays, and the sign-off block.
 */
import { images, jobs, models, results, thresholds, type Project } from '../store/index.ts';
import { resultOverlay } from '../services/pictures.ts';
import type { Block, Picture, SignOff } from './document.ts';
import { num } from './document.ts';

/** Thumbnail size (longer side, pixels) of pictures in reports. */
export const THUMBNAIL_SIDE = 320;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 90 ? `${m} min ${Math.round(seconds - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function secondsBetween(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  return (Date.parse(to) - Date.parse(from)) / 1000;
}

export { duration as formatDuration };

/** Settings as "key = value" lines; the fitted state (`trained`) is summarised, not printed. */
function configurationLines(config: unknown): string {
  const entries = Object.entries((config ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'trained' && k !== 'checkpoint').sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([k, v]) => `${k} = ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('; ') || '(method defaults)';
}

/** The model section: what was trained, on what, how long it took. */
export function modelSection(p: Project, model: models.Model): { blocks: Block[]; times: string[] } {
  const train = model.jobId !== null ? jobs.find(p, model.jobId) : undefined;
  const trainResult = (train?.result ?? {}) as { trainImages?: number; addedImages?: number };
  const trainSeconds = secondsBetween(train?.startedAt ?? null, train?.finishedAt ?? null);
  const extended = ((model.config ?? {}) as { extendedFrom?: { version: number } }).extendedFrom;
  const rows: Array<[string, string]> = [
    ['Model', `version ${model.version} (id ${model.id})`],
    ['Method', model.method],
    ['Backbone', model.backboneId],
    ['Backbone sha256', model.backboneSha256],
    ['Configuration', configurationLines(model.config)],
    ['Training-data manifest sha256', model.dataManifestSha256],
    ['Training images', trainResult.trainImages !== undefined ? String(trainResult.trainImages) : extended ? `version ${extended.version} plus ${trainResult.addedImages ?? '?'} added normal image(s)` : '-'],
    ['Trained', `${model.createdAt}${trainSeconds !== null ? ` (training took ${duration(trainSeconds)}, job ${train!.id})` : ''}`],
  ];
  return { blocks: [{ type: 'heading', text: 'Model' }, { type: 'keyValues', rows }], times: [model.createdAt] };
}

/** The threshold policy in words. */
export function thresholdRows(t: thresholds.Threshold | undefined): Array<[string, string]> {
  if (!t) return [['Threshold', 'none: results are unjudged']];
  return [
    ['Threshold version', `version ${t.version} (id ${t.id}), set ${t.createdAt}`],
    ['Image threshold', t.reviewLow !== null && t.reviewHigh !== null
      ? `${num(t.imageThreshold)}, inside the review band: a score below ${num(t.reviewLow)} passes, at or above ${num(t.reviewHigh)} fails`
      : `${num(t.imageThreshold)}: a score below it passes, at or above it fails`],
    ['Review band', t.reviewLow !== null && t.reviewHigh !== null ? `[${num(t.reviewLow)}, ${num(t.reviewHigh)}): scores in it go to a person` : 'none'],
    ['Pixel threshold', t.pixelThreshold !== null ? `${num(t.pixelThreshold)}: anomaly-map pixels at or above it outline the defect` : 'none (no outlines)'],
    ['Note', t.note || '-'],
  ];
}

/** A result's overlay (heatmap, detector and refined outlines, ground truth where known) as a picture. */
export async function resultPicture(p: Project, result: results.Result, caption: readonly string[]): Promise<Picture> {
  const pic = await resultOverlay(p, result.id, THUMBNAIL_SIDE, { heatmap: result.mapSha256 !== null, detector: true, refined: true, truth: true });
  return { png: Buffer.from(pic.base64, 'base64'), width: pic.width, height: pic.height, caption };
}

/** The image's file name (the last part of its original path). */
export function fileName(image: images.Image): string {
  return image.originalPath.split(/[\\/]/).pop() ?? image.originalPath;
}

export function signOffBlocks(s: SignOff): Block[] {
  return [
    { type: 'heading', text: 'Sign-off' },
    { type: 'paragraph', text: 'By signing, the persons below confirm that they have read this report and that it describes the stated model, threshold and data.' },
    { type: 'signOff', preparedBy: s.preparedBy, reviewedBy: s.reviewedBy, role: s.role },
  ];
}

/** "and N more" under a capped list of pictures. */
export function moreNote(shown: number, total: number, what: string): Block[] {
  return total > shown ? [{ type: 'paragraph', text: `Showing ${shown} of ${total} ${what}; ${total - shown} more are listed in the tables.` }] : [];
}
