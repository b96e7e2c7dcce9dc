/**
 * The controls around the manager's list: the filters by state and label with their counts, the selection's
 * count with the bulk buttons, and the list's head with the box that ticks the whole page.
 */
import { type ComponentChild, h } from "preact";
import type { DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../../shared/download-states.ts";
import type { Operations } from "./operations.ts";
import type { PageState } from "./page-state.ts";
import { FILTER_STATES } from "./queue-model.ts";

/** Filters by state and label, the selection's count and the bulk buttons. */
export function Toolbar({ state, ops }: { state: PageState; ops: Operations }): ComponentChild {
  const counts = state.queue.counts();
  const labels = state.queue.labels();
  const filter = state.filter;
  const none = state.selected.size === 0;
  return h(
    "div",
    { class: "toolbar" },
    h("h2", { id: "list-heading" }, "Queue"),
    h(
      "label",
      {},
      "State ",
      h(
        "select",
        {
          id: "filter-state",
          value: filter.state === undefined ? "" : String(filter.state),
          onChange: (e: Event) => {
            const value = (e.currentTarget as HTMLSelectElement).value;
            state.filterState(value === "" ? undefined : (Number(value) as DownloadState));
          },
        },
        h("option", { value: "" }, `all (${state.queue.size})`),
        FILTER_STATES.map((s) =>
          h("option", { key: s, value: String(s) }, `${stateName(s)} (${counts.get(s) ?? 0})`),
        ),
      ),
    ),
    h(
      "label",
      {},
      "Label ",
      h(
        "select",
        {
          id: "filter-label",
          value: filter.label !== undefined && labels.includes(filter.label) ? filter.label : "",
          onChange: (e: Event) => {
            const value = (e.currentTarget as HTMLSelectElement).value;
            state.filterLabel(value === "" ? undefined : value);
          },
        },
        h("option", { value: "" }, "all"),
        labels.map((l) => h("option", { key: l, value: l }, l)),
      ),
    ),
    h("span", { class: "spacer" }),
    h("span", { id: "selected-count", class: "muted" }, `${state.selected.size} selected`),
    h(
      "button",
      {
        type: "button",
        id: "bulk-pause",
        disabled: none,
        onClick: () => void ops.command("pause", state.selectedIds()),
      },
      "Pause",
    ),
    h(
      "button",
      {
        type: "button",
        id: "bulk-resume",
        disabled: none,
        onClick: () => void ops.command("resume", state.selectedIds()),
      },
      "Resume",
    ),
    h(
      "button",
      {
        type: "button",
        id: "bulk-remove",
        class: "danger",
        disabled: none,
        onClick: () => state.askRemove(state.selectedIds()),
      },
      "Remove",
    ),
  );
}

/** The list's head, with the box that ticks the whole page. */
export function TableHead({
  state,
  pageIds,
}: {
  state: PageState;
  pageIds: readonly bigint[];
}): ComponentChild {
  const onPage = pageIds.filter((id) => state.selected.has(id)).length;
  const col = (c: string, text: string) => h("th", { scope: "col", class: c }, text);
  return h(
    "thead",
    {},
    h(
      "tr",
      { class: "qrow head" },
      h(
        "th",
        { scope: "col", class: "c-check" },
        h("input", {
          type: "checkbox",
          id: "select-page",
          "aria-label": "Select all on this page",
          checked: onPage > 0 && onPage === pageIds.length,
          indeterminate: onPage > 0 && onPage < pageIds.length,
          onChange: (e: Event) => state.select(pageIds, (e.currentTarget as HTMLInputElement).checked),
        }),
      ),
      col("c-name", "Name"),
      col("c-state", "State"),
      col("c-progress", "Progress"),
      col("c-size", "Size"),
      col("c-rate", "Rate"),
      col("c-eta", "ETA"),
      col("c-conns", "Conns"),
      col("c-labels", "Labels"),
      col("c-actions", "Actions"),
    ),
  );
}
