/**
 * The rows of the manager's list (page.html's `#rows`). Only the page on screen has elements (50 rows of
 * 1,000 downloads), each kept by id and redrawn only when its Download message changed, so a 4 Hz stream
 * over a long queue costs the browser a few text updates. Every control is a native button or checkbox
 * (keyboard reachable); `data-action` names what it does, and the page handles clicks in one listener.
 */
import { type Download, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { rowText } from "./row-text.ts";

/** The row button's word in states where it does not pause. */
const TOGGLE_LABELS: ReadonlyMap<DownloadState, string> = new Map([
  [DownloadState.PAUSED, "Resume"],
  [DownloadState.FAILED, "Retry"],
  [DownloadState.RETRYING, "Retry now"],
]);

/** One row's elements. */
interface Row {
  readonly root: HTMLElement;
  readonly check: HTMLInputElement;
  readonly name: HTMLButtonElement;
  readonly problem: HTMLElement;
  readonly state: HTMLElement;
  readonly bar: HTMLElement;
  readonly fill: HTMLElement;
  readonly percent: HTMLElement;
  readonly size: HTMLElement;
  readonly rate: HTMLElement;
  readonly eta: HTMLElement;
  readonly conns: HTMLElement;
  readonly labels: HTMLElement;
  readonly toggle: HTMLButtonElement;
  readonly up: HTMLButtonElement;
  readonly down: HTMLButtonElement;
  /** The message and second it was drawn from (a retry countdown redraws each second). */
  drawn: Download | undefined;
  drawnSecond: number;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== "") e.textContent = text;
  return e;
}

function actionButton(action: string, label: string, text: string, className = ""): HTMLButtonElement {
  const b = el("button", `small ${className}`.trim(), text);
  b.type = "button";
  b.dataset["action"] = action;
  b.setAttribute("aria-label", label);
  return b;
}

function cell(className: string, ...children: Node[]): HTMLElement {
  const c = el("td", className);
  c.append(...children);
  return c;
}

/** Draws the visible page of the list, reusing row elements by download id. */
export class QueueTable {
  readonly #container: HTMLElement;
  readonly #rows = new Map<bigint, Row>();

  constructor(container: HTMLElement) {
    this.#container = container;
  }

  /** Shows `downloads` in this order; `selected` ticks their boxes. */
  render(downloads: readonly Download[], selected: ReadonlySet<bigint>, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const shown = new Set<bigint>();
    const elements: HTMLElement[] = [];
    for (const d of downloads) {
      shown.add(d.id);
      let row = this.#rows.get(d.id);
      if (row === undefined) {
        row = this.#create(d.id);
        this.#rows.set(d.id, row);
      }
      row.check.checked = selected.has(d.id);
      const retrying = d.state === DownloadState.RETRYING;
      if (row.drawn !== d || (retrying && row.drawnSecond !== second)) this.#draw(row, d, nowMs);
      row.drawnSecond = second;
      elements.push(row.root);
    }
    for (const [id, row] of this.#rows) {
      if (shown.has(id)) continue;
      row.root.remove();
      this.#rows.delete(id);
    }
    // Only when the order or membership changed: moving focused elements would lose the keyboard focus.
    const current = this.#container.children;
    if (current.length !== elements.length || elements.some((e, i) => current[i] !== e)) {
      this.#container.replaceChildren(...elements);
    }
  }

  #create(id: bigint): Row {
    const root = el("tr", "qrow");
    root.dataset["id"] = String(id);
    const check = el("input", "");
    check.type = "checkbox";
    check.dataset["action"] = "select";
    const name = el("button", "link");
    name.type = "button";
    name.dataset["action"] = "open";
    const problem = el("span", "problem");
    const state = el("span", "pill small");
    const bar = el("span", "bar mini");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    const fill = el("i", "");
    bar.append(fill);
    const percent = el("span", "pct");
    const size = el("span", "");
    const rate = el("span", "");
    const eta = el("span", "");
    const conns = el("span", "");
    const labels = el("span", "labels");
    const toggle = actionButton("toggle", "Pause", "Pause");
    const up = actionButton("up", "Move up", "↑");
    const down = actionButton("down", "Move down", "↓");
    const remove = actionButton("remove", "Remove", "Remove", "danger");
    root.append(
      cell("c-check", check),
      cell("c-name", name, problem),
      cell("c-state", state),
      cell("c-progress", bar, percent),
      cell("c-size", size),
      cell("c-rate", rate),
      cell("c-eta", eta),
      cell("c-conns", conns),
      cell("c-labels", labels),
      cell("c-actions", toggle, up, down, remove),
    );
    return {
      root,
      check,
      name,
      problem,
      state,
      bar,
      fill,
      percent,
      size,
      rate,
      eta,
      conns,
      labels,
      toggle,
      up,
      down,
      drawn: undefined,
      drawnSecond: -1,
    };
  }

  #draw(row: Row, d: Download, nowMs: number): void {
    const t = rowText(d, nowMs);
    row.drawn = d;
    row.root.dataset["state"] = t.state;
    row.check.setAttribute("aria-label", `Select ${t.name}`);
    row.name.textContent = t.name;
    row.name.title = d.url;
    row.problem.textContent = [t.problem, t.retry].filter((s) => s !== "").join(" — ");
    row.problem.hidden = row.problem.textContent === "";
    row.problem.title = row.problem.textContent;
    row.state.textContent = t.state;
    row.state.dataset["state"] = t.state;
    row.fill.style.width = `${t.percent ?? 0}%`;
    row.bar.setAttribute("aria-valuenow", (t.percent ?? 0).toFixed(1));
    row.bar.setAttribute("aria-label", `${t.name} downloaded`);
    row.percent.textContent = t.percent === undefined ? "-" : `${t.percent.toFixed(1)}%`;
    row.size.textContent = t.size;
    row.rate.textContent = t.rate;
    row.eta.textContent = t.eta;
    row.conns.textContent = t.connections;
    row.labels.textContent = d.labels.join(", ");
    // One button whose meaning follows the state: a failed download offers Retry, a retrying one Retry now.
    const label = TOGGLE_LABELS.get(d.state) ?? "Pause";
    row.toggle.textContent = label;
    row.toggle.setAttribute("aria-label", `${label} ${t.name}`);
    row.toggle.dataset["command"] = label === "Pause" ? "pause" : "resume";
    row.toggle.disabled = d.state === DownloadState.FINISHED || d.state === DownloadState.VERIFYING;
    row.up.setAttribute("aria-label", `Move ${t.name} up`);
    row.down.setAttribute("aria-label", `Move ${t.name} down`);
  }
}
