/**
 * Wheel zoom around the cursor, as a Svelte action (the review viewer and the mask editor): `zoom`
 * gets the factor and the point in the element. The listener is not passive, so the page does not
 * scroll meanwhile. Kept apart from viewport.ts, whose pure arithmetic the Node tests import.
 */
export function wheelZoomAction(zoom: (factor: number, px: number, py: number) => void): (node: HTMLElement) => { destroy(): void } {
  return (node) => {
    const onwheel = (e: WheelEvent) => {
      e.preventDefault();
      const rect = node.getBoundingClientRect();
      const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
      zoom(Math.exp(-delta * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
    };
    node.addEventListener('wheel', onwheel, { passive: false });
    return { destroy: () => node.removeEventListener('wheel', onwheel) };
  };
}
