/**
 * How the reviewer looks at results, kept while stepping from one result to the next: which picture
 * (original, overlay, mask, repaired) or all side by side, the heatmap's opacity, which outlines show.
 */
export type ReviewView = 'original' | 'overlay' | 'mask' | 'repaired';

export const review = $state({
  view: 'overlay' as ReviewView,
  sideBySide: false,
  /** Heatmap opacity over the image, 0–1. */
  opacity: 0.45,
  /** Outlines: the detector's predicted defect, F2PAD's refined one, the ground truth; ignore regions shaded. */
  detector: true,
  refined: true,
  truth: false,
  ignore: true,
  /** The results list and the inspection form hidden: the viewer takes the whole screen. */
  focus: false,
});
