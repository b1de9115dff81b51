/**
 * Reviewed results as labels for the next training (issue 12: "add to normal", "add as defect"). The
 * model's results and the reviewer's decisions stay as they are; only the images' labels and splits
 * change, all of them or none.
 */
import { ApiError } from '../api/contract.ts';
import { decisions, images, results, type Project } from '../store/index.ts';

/**
 * 'normal': the results' images become good training images. 'defect': they become defective test
 * images (never fitted on) with the defect type of their latest decision, where there is one.
 * Returns how many images changed.
 */
export function labelFromResults(p: Project, resultIds: readonly number[], as: 'normal' | 'defect'): { changed: number } {
  const imageIds = [...new Set(resultIds.map((id) => results.get(p, id).imageId))];
  const decided = decisions.latestFor(p, imageIds);
  if (as === 'normal') {
    const failed = imageIds.filter((id) => decided.get(id)?.verdict === 'fail');
    if (failed.length > 0) throw new ApiError('BAD_INPUT', `the reviewer failed image${failed.length === 1 ? '' : 's'} ${failed.join(', ')}: record a pass first to add ${failed.length === 1 ? 'it' : 'them'} to normal`);
  }
  return p.transaction(() => {
    for (const id of imageIds) {
      images.setLabel(p, id, as === 'normal' ? { verdict: 'good', defectType: null } : { verdict: 'defective', defectType: decided.get(id)?.defectType ?? null });
    }
    return { changed: images.setSplit(p, imageIds, as === 'normal' ? 'train' : 'test') };
  });
}
