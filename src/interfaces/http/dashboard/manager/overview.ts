/**
 * The top of the manager's page: downloads per state, the queue's total rate and active slots, the global
 * speed limit (written back from the daemon's counters except while someone types in it) and the rate chart.
 */
import { type ComponentChild, h } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";
import { stateName } from "../../../shared/download-states.ts";
import { formatRate } from "../../../shared/format.ts";
import type { Operations } from "./operations.ts";
import type { PageState } from "./page-state.ts";
import { FILTER_STATES } from "./queue-model.ts";
import { RateChart } from "./rate-chart-view.ts";
import { rateInput } from "./row-text.ts";

/** Counts per state, the queue's rate and slots, the global limit and the rate chart. */
export function Overview({ state, ops }: { state: PageState; ops: Operations }): ComponentChild {
  // Preact's element reference starts as null (its API, not dlm's).
  const limit = useRef<HTMLInputElement>(null);
  const stats = state.queue.stats;
  // The field shows the daemon's limit, except while someone types in it.
  useLayoutEffect(() => {
    if (stats !== undefined && limit.current !== null && document.activeElement !== limit.current) {
      limit.current.value = rateInput(stats.globalSpeedLimit);
    }
  });
  const counts = state.queue.counts();
  return h(
    "section",
    { "aria-labelledby": "overview-heading", class: "overview" },
    h("h2", { id: "overview-heading", class: "sr-only" }, "Overview"),
    h(
      "dl",
      { class: "stats", id: "counts", "aria-label": "Downloads per state" },
      FILTER_STATES.map((s) =>
        h(
          "div",
          { key: s, "data-state": stateName(s) },
          h("dt", {}, stateName(s)),
          h("dd", {}, String(counts.get(s) ?? 0)),
        ),
      ),
    ),
    h(
      "div",
      { class: "global" },
      h(
        "dl",
        { class: "stats" },
        h(
          "div",
          {},
          h("dt", {}, "Rate"),
          h("dd", { id: "global-rate" }, stats === undefined ? "-" : formatRate(stats.bytesPerSecond)),
        ),
        h(
          "div",
          {},
          h("dt", {}, "Active"),
          h(
            "dd",
            { id: "global-active" },
            stats === undefined ? "-" : `${stats.active} of ${stats.maxActive}`,
          ),
        ),
      ),
      h(
        "form",
        {
          id: "global-limit-form",
          class: "inline",
          onSubmit: (event: SubmitEvent) => {
            event.preventDefault();
            const field = limit.current;
            if (field !== null) void ops.setGlobalLimit(field.value).then(() => field.blur());
          },
        },
        h("label", { for: "global-limit" }, "Global limit"),
        h("input", {
          id: "global-limit",
          name: "limit",
          placeholder: "none",
          size: 7,
          inputmode: "text",
          autocomplete: "off",
          ref: limit,
        }),
        h("button", { type: "submit" }, "Set"),
      ),
    ),
    h(RateChart, {
      samples: state.globalSamples,
      svgId: "global-chart",
      prefix: "global",
      label: "Total download rate over time",
    }),
  );
}
