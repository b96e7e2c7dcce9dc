/**
 * A rate chart as a component: the samples' line and the area below it in an SVG, and a caption naming
 * the peak (rate-chart.ts does the geometry). The queue's total rate and the open download's use it.
 */
import { type ComponentChild, Fragment, h } from "preact";
import { formatDuration, formatRate } from "../../../shared/format.ts";
import { chartShape, type RateSample } from "../rate-chart.ts";
import { CHART_WINDOW_S } from "./page-state.ts";

const FRAME = { width: 600, height: 120, windowSeconds: CHART_WINDOW_S };

/** What a chart draws, and the element ids its parts carry (page.css and the tests know them). */
export interface RateChartProps {
  readonly samples: readonly RateSample[];
  /** The SVG's id. */
  readonly svgId: string;
  /** Prefix of its parts' ids: `${prefix}-line`, `${prefix}-area`, `${prefix}-max` (the caption). */
  readonly prefix: string;
  readonly label: string;
}

/** The chart and its caption. */
export function RateChart({ samples, svgId, prefix: id, label }: RateChartProps): ComponentChild {
  const shape = samples.length === 0 ? undefined : chartShape(samples, FRAME);
  const over =
    shape === undefined || shape.span >= FRAME.windowSeconds
      ? "the last 3 minutes"
      : formatDuration(shape.span);
  return h(
    Fragment,
    {},
    h(
      "svg",
      {
        id: svgId,
        viewBox: `0 0 ${FRAME.width} ${FRAME.height}`,
        preserveAspectRatio: "none",
        role: "img",
        "aria-label": label,
      },
      h("polygon", { id: `${id}-area`, points: shape?.area ?? "" }),
      h("polyline", { id: `${id}-line`, fill: "none", points: shape?.line ?? "" }),
    ),
    h(
      "p",
      { class: "muted", id: `${id}-max` },
      shape === undefined ? "" : `Peak ${formatRate(shape.top * 0.9)} over ${over}`,
    ),
  );
}
