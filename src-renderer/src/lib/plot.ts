/**
 * The renderer's one way to draw a chart: uPlot (canvas; small, fast, no dependencies) as a Svelte
 * action. The chart is built once per `options` object and only gets new data (setData) when `data`
 * changes; it follows its element's width. Anything that moves per pointer event (a threshold
 * handle) belongs in an overlay, never in the options or data.
 *
 *   <div use:plot={{ options, data, height: 240 }}></div>
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface PlotParams {
  /** Everything but the size: a new object rebuilds the chart. */
  readonly options: Omit<uPlot.Options, 'width' | 'height'>;
  readonly data: uPlot.AlignedData;
  readonly height: number;
  /** A fixed width in CSS pixels; otherwise the element's width. */
  readonly width?: number;
  /** Called with each chart built (to read its scales and plotting area). */
  readonly onchart?: (chart: uPlot) => void;
}

export function plot(node: HTMLElement, params: PlotParams) {
  let current = params;
  const width = () => current.width ?? Math.max(50, Math.floor(node.clientWidth));
  const build = () => {
    const chart = new uPlot({ ...current.options, width: width(), height: current.height }, current.data, node);
    current.onchart?.(chart);
    return chart;
  };
  let chart = build();
  const resize = new ResizeObserver(() => {
    const w = width();
    if (w !== chart.width) chart.setSize({ width: w, height: current.height });
  });
  resize.observe(node);
  return {
    update(next: PlotParams) {
      const previous = current;
      current = next;
      if (next.options !== previous.options || next.height !== previous.height || next.width !== previous.width) {
        chart.destroy();
        chart = build();
      } else if (next.data !== previous.data) {
        chart.setData(next.data);
      }
    },
    destroy() {
      resize.disconnect();
      chart.destroy();
    },
  };
}

/** Colours and fonts of the charts, read from the page's CSS variables. */
export function chartTheme(): { text: string; grid: string; accent: string; good: string; defective: string; font: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--muted', '#5b6776'), grid: v('--border-soft', '#e6eaee'), accent: v('--accent', '#1f6feb'),
    good: v('--good', '#2e8b57'), defective: v('--defective', '#d9480f'),
    font: `11px ${getComputedStyle(document.body).fontFamily}`,
  };
}

/** An axis in the station's style. */
export function axis(label: string | undefined, extra: uPlot.Axis = {}): uPlot.Axis {
  const t = chartTheme();
  return {
    stroke: t.text, font: t.font, labelFont: t.font, label, labelSize: label ? 18 : 0, size: 36,
    grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1, size: 4 }, ...extra,
  };
}
