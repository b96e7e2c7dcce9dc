/**
 * The rows of the manager's list: only the page on screen (50 rows of 1,000 downloads), one row per
 * download keyed by id, so Preact touches only what a message changed. Every control is a native button or
 * checkbox (keyboard reachable). The buttons register in a {@link RowButtons} map: the page puts the focus
 * back on a row's name when the detail it opened closes.
 */
import { Component, type ComponentChild, h } from "preact";
import { type Download, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { rowText, rowToggle } from "./row-text.ts";

/** What a row's controls do. */
export interface RowActions {
  select(id: bigint, on: boolean): void;
  open(id: bigint): void;
  /** Pauses or resumes, as {@link rowToggle} of the row's state says. */
  toggle(d: Download): void;
  move(id: bigint, direction: -1 | 1): void;
  remove(id: bigint): void;
}

/** A row's buttons. */
export type RowAction = "open" | "toggle" | "up" | "down" | "remove";

/** The buttons of the rows on screen, by `${id} ${action}` (typed element references, set by Preact). */
export type RowButtons = Map<string, HTMLButtonElement>;

/** The key of a row's button in {@link RowButtons}. */
export const buttonKey = (id: bigint, action: RowAction): string => `${id} ${action}`;

interface TableProps {
  readonly rows: readonly Download[];
  readonly selected: ReadonlySet<bigint>;
  readonly nowMs: number;
  readonly actions: RowActions;
  readonly buttons: RowButtons;
}

/** The `<tbody>` of the list. */
export function QueueRows({ rows, selected, nowMs, actions, buttons }: TableProps): ComponentChild {
  // Keyed by id: a row that moves one place keeps its elements, and Preact moves its neighbour, so a
  // keyboard user's focus stays on the button pressed (manager-page.test.ts checks it both ways).
  return h(
    "tbody",
    { id: "rows" },
    rows.map((d) =>
      h(QueueRow, { key: String(d.id), d, checked: selected.has(d.id), nowMs, actions, buttons }),
    ),
  );
}

interface RowProps {
  readonly d: Download;
  readonly checked: boolean;
  readonly nowMs: number;
  readonly actions: RowActions;
  readonly buttons: RowButtons;
}

/**
 * One row, redrawn only when its Download message or its tick changed (a 4 Hz stream changes a few rows of
 * the 50), or each second while it counts down to a retry.
 */
class QueueRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    const now = this.props;
    return (
      next.d !== now.d ||
      next.checked !== now.checked ||
      (next.d.state === DownloadState.RETRYING &&
        Math.floor(next.nowMs / 1000) !== Math.floor(now.nowMs / 1000))
    );
  }

  override render(props: RowProps): ComponentChild {
    return row(props);
  }
}

function row({ d, checked, nowMs, actions, buttons }: RowProps): ComponentChild {
  const t = rowText(d, nowMs);
  const toggle = rowToggle(d.state);
  const problem = [t.problem, t.retry].filter((s) => s !== "").join(" — ");
  const percent = t.percent ?? 0;
  const button = (action: RowAction, label: string, text: string, onClick: () => void, extra = {}) =>
    h(
      "button",
      {
        type: "button",
        class: action === "remove" ? "small danger" : "small",
        "data-action": action,
        "aria-label": label,
        onClick,
        ref: (el: HTMLButtonElement | null) => {
          if (el === null) buttons.delete(buttonKey(d.id, action));
          else buttons.set(buttonKey(d.id, action), el);
        },
        ...extra,
      },
      text,
    );
  return h(
    "tr",
    { class: "qrow", "data-id": String(d.id), "data-state": t.state },
    h(
      "td",
      { class: "c-check" },
      h("input", {
        type: "checkbox",
        "data-action": "select",
        "aria-label": `Select ${t.name}`,
        checked,
        onChange: (event: Event) => actions.select(d.id, (event.currentTarget as HTMLInputElement).checked),
      }),
    ),
    h(
      "td",
      { class: "c-name" },
      h(
        "button",
        {
          type: "button",
          class: "link",
          "data-action": "open",
          title: d.url,
          onClick: () => actions.open(d.id),
          ref: (el: HTMLButtonElement | null) => {
            if (el === null) buttons.delete(buttonKey(d.id, "open"));
            else buttons.set(buttonKey(d.id, "open"), el);
          },
        },
        t.name,
      ),
      h("span", { class: "problem", hidden: problem === "", title: problem }, problem),
    ),
    h("td", { class: "c-state" }, h("span", { class: "pill small", "data-state": t.state }, t.state)),
    h(
      "td",
      { class: "c-progress" },
      h(
        "span",
        {
          class: "bar mini",
          role: "progressbar",
          "aria-valuemin": 0,
          "aria-valuemax": 100,
          "aria-valuenow": percent.toFixed(1),
          "aria-label": `${t.name} downloaded`,
        },
        h("i", { style: { width: `${percent}%` } }),
      ),
      h("span", { class: "pct" }, t.percent === undefined ? "-" : `${t.percent.toFixed(1)}%`),
    ),
    h("td", { class: "c-size" }, h("span", {}, t.size)),
    h("td", { class: "c-rate" }, h("span", {}, t.rate)),
    h("td", { class: "c-eta" }, h("span", {}, t.eta)),
    h("td", { class: "c-conns" }, h("span", {}, t.connections)),
    h("td", { class: "c-labels" }, h("span", { class: "labels" }, d.labels.join(", "))),
    h(
      "td",
      { class: "c-actions" },
      button("toggle", `${toggle.label} ${t.name}`, toggle.label, () => actions.toggle(d), {
        disabled: toggle.disabled,
      }),
      button("up", `Move ${t.name} up`, "↑", () => actions.move(d.id, -1)),
      button("down", `Move ${t.name} down`, "↓", () => actions.move(d.id, 1)),
      button("remove", `Remove ${t.name}`, "Remove", () => actions.remove(d.id)),
    ),
  );
}
