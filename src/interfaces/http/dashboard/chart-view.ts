/**
 * A rate chart drawn into an SVG `<polyline>` and `<polygon>`, with a caption naming its peak. Both
 * dashboards use it: the download page for one download, the manager's page for the whole queue.
 */
import { formatDuration, formatRate } from "../../shared/format.ts";
import { chartShape, type RateSample, trimSamples } from "./rate-chart.ts";

/** SVG viewBox of every chart (page.html's `<svg viewBox="0 0 600 120">`) and the time window kept. */
const CHART = { width: 600, height: 120, windowSeconds: 180 };

/** The elements a chart draws into. */
export interface ChartElements {
  readonly line: Element;
  readonly area: Element;
  readonly caption: HTMLElement;
}

/** Keeps the last three minutes of samples and redraws on each one. */
export class ChartView {
  readonly #elements: ChartElements;
  readonly #samples: RateSample[] = [];

  constructor(elements: ChartElements) {
    this.#elements = elements;
  }

  /** Samples so far (none until the first {@link add}). */
  get empty(): boolean {
    return this.#samples.length === 0;
  }

  /** Adds the rate at `seconds` (any clock that only goes forward) and redraws. */
  add(seconds: number, rate: number): void {
    this.#samples.push({ t: seconds, rate });
    trimSamples(this.#samples, seconds, CHART.windowSeconds);
    const shape = chartShape(this.#samples, CHART);
    this.#elements.line.setAttribute("points", shape.line);
    this.#elements.area.setAttribute("points", shape.area);
    const over = shape.span < CHART.windowSeconds ? formatDuration(shape.span) : "the last 3 minutes";
    this.#elements.caption.textContent = `Peak ${formatRate(shape.top * 0.9)} over ${over}`;
  }
}
