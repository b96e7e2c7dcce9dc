/**
 * The manager's page as one component tree drawn from the page's one state ({@link PageState}): the
 * header and banner, the overview (counts per state, total rate, active slots, global limit, rate chart),
 * the add form, the queue (filters, bulk actions, the rows, pages), the open download's detail and the
 * removal dialog. Every button is one DownloadService call; what it changed comes back over WatchAll.
 */
import { ConnectError } from "@connectrpc/connect";
import { type ComponentChild, Fragment, h } from "preact";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { type Download, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../../shared/download-states.ts";
import { formatRate } from "../../../shared/format.ts";
import { AddForm } from "./add-form.ts";
import { DetailPanel } from "./detail-panel.ts";
import type { PageState, RemoveQuestion } from "./page-state.ts";
import { FILTER_STATES } from "./queue-model.ts";
import { buttonKey, QueueRows, type RowActions, type RowButtons } from "./queue-table.ts";
import { RateChart } from "./rate-chart-view.ts";
import { type RemoveChoice, RemoveDialog } from "./remove-dialog.ts";
import { parseRate, rateInput, rowToggle } from "./row-text.ts";
import type { DownloadClient } from "./streams.ts";

interface AppProps {
  readonly state: PageState;
  readonly client: DownloadClient;
}

/** The whole page. */
export function App({ state, client }: AppProps): ComponentChild {
  const buttons = useRef<RowButtons>(new Map()).current;
  const ops = useRef(new Operations(state, client, buttons)).current;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && state.detail !== undefined && state.removing === undefined) ops.closeDetail();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    document.body.dataset["seq"] = String(state.queue.seq);
  });
  const view = state.view();
  const queue = state.queue;
  const counts = queue.counts();
  const open = state.detail === undefined ? undefined : queue.get(state.detail.id);
  const first = view.matching === 0 ? 0 : view.page * state.filter.pageSize + 1;
  return h(
    Fragment,
    {},
    h(
      "header",
      { class: "top" },
      h(
        "div",
        { class: "title" },
        h("h1", {}, "Downloads"),
        h(
          "p",
          { class: "muted", id: "summary" },
          `${queue.size} downloads, ${counts.get(DownloadState.RUNNING) ?? 0} running`,
        ),
      ),
      h(
        "span",
        { id: "link", class: "pill", role: "status", "data-state": state.link.state },
        state.link.text,
      ),
    ),
    h(
      "p",
      { id: "notice", role: "alert", hidden: state.notice === undefined, class: state.notice?.kind ?? "" },
      state.notice?.text ?? "",
    ),
    h(Overview, { state, ops }),
    h(AddForm, { client, state }),
    h(
      "section",
      { "aria-labelledby": "list-heading" },
      h(Toolbar, { state, ops }),
      h(
        "table",
        { id: "queue", class: "queue", "aria-labelledby": "list-heading" },
        h(TableHead, { state, pageIds: view.rows.map((d) => d.id) }),
        h(QueueRows, { rows: view.rows, selected: state.selected, nowMs: Date.now(), actions: ops, buttons }),
      ),
      h(
        "p",
        { id: "empty", class: "muted", hidden: queue.size > 0 },
        "No downloads yet: add some above, or with ",
        h("code", {}, "dlm add URL"),
        ".",
      ),
      h(
        "nav",
        { class: "pager", "aria-label": "Pages" },
        h(
          "button",
          { type: "button", id: "page-prev", disabled: view.page === 0, onClick: () => state.turnPage(-1) },
          "Previous",
        ),
        h(
          "span",
          { id: "page-info", class: "muted", "aria-live": "polite" },
          `${first}–${first + view.rows.length - Math.min(1, first)} of ${view.matching}`,
        ),
        h(
          "button",
          {
            type: "button",
            id: "page-next",
            disabled: view.page >= view.pages - 1,
            onClick: () => state.turnPage(1),
          },
          "Next",
        ),
      ),
    ),
    state.detail === undefined || open === undefined
      ? h("section", { id: "detail", hidden: true })
      : h(DetailPanel, {
          key: String(state.detail.id),
          detail: state.detail,
          d: open,
          client,
          state,
          onClose: () => ops.closeDetail(),
          onLimit: (typed: string) => ops.setDownloadLimit(open.id, typed),
        }),
    h(RemoveDialog, { question: state.removing, onAnswer: (q, choice) => void ops.answerRemove(q, choice) }),
  );
}

/** Counts per state, the queue's rate and slots, the global limit and the rate chart. */
function Overview({ state, ops }: { state: PageState; ops: Operations }): ComponentChild {
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

/** Filters by state and label, the selection's count and the bulk buttons. */
function Toolbar({ state, ops }: { state: PageState; ops: Operations }): ComponentChild {
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
function TableHead({ state, pageIds }: { state: PageState; pageIds: readonly bigint[] }): ComponentChild {
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

/** The page's DownloadService calls; a failure is shown in the banner. */
class Operations implements RowActions {
  readonly #state: PageState;
  readonly #client: DownloadClient;
  readonly #buttons: RowButtons;

  constructor(state: PageState, client: DownloadClient, buttons: RowButtons) {
    this.#state = state;
    this.#client = client;
    this.#buttons = buttons;
  }

  select(id: bigint, on: boolean): void {
    this.#state.select([id], on);
  }

  open(id: bigint): void {
    this.#state.openDetail(id);
  }

  toggle(d: Download): void {
    void this.command(rowToggle(d.state).command, [d.id]);
  }

  remove(id: bigint): void {
    this.#state.askRemove([id]);
  }

  /**
   * Moves `id` one place in queue order with one Move call (the daemon shifts the others, so no two rows
   * share a position). Past a download of another priority it cannot go by position: the banner says so.
   */
  move(id: bigint, direction: -1 | 1): void {
    const d = this.#state.queue.get(id);
    const other = this.#state.queue.neighbour(id, direction);
    if (d === undefined || other === undefined) return;
    if (other.priority !== d.priority) {
      this.#state.setNotice(
        `It is the first of priority ${d.priority}: only a higher priority moves it ${direction < 0 ? "up" : "down"} past priority ${other.priority}.`,
        "info",
      );
      return;
    }
    void this.#call("move the download", () => this.#client.move({ id, position: other.position }));
  }

  async command(kind: "pause" | "resume", ids: readonly bigint[]): Promise<void> {
    if (ids.length === 0) return;
    const selector = { ids: [...ids] };
    await this.#call(`${kind} ${ids.length === 1 ? "the download" : `${ids.length} downloads`}`, () =>
      kind === "pause"
        ? this.#client.pause({ selector }).then(() => undefined)
        : this.#client.resume({ selector }).then(() => undefined),
    );
  }

  /** Closes the detail and gives the focus back to its row's name (keyboard users land where they were). */
  closeDetail(): void {
    const id = this.#state.detail?.id;
    this.#state.closeDetail();
    if (id !== undefined) this.#buttons.get(buttonKey(id, "open"))?.focus();
  }

  async answerRemove(question: RemoveQuestion, choice: RemoveChoice | undefined): Promise<void> {
    this.#state.answered();
    if (choice === undefined) return;
    const removed = await this.#call("remove", () =>
      this.#client.remove({ selector: { ids: [...question.ids] }, deleteFiles: choice === "delete" }),
    );
    this.#state.select(removed?.ids ?? [], false);
  }

  async setGlobalLimit(typed: string): Promise<void> {
    const rate = parseRate(typed);
    if (rate === undefined) {
      return this.#state.setNotice(
        `Global limit: expected a rate like 512K or 2M, got ${JSON.stringify(typed)}`,
      );
    }
    const done = await this.#call("set the global limit", () =>
      this.#client.setGlobalLimit({ speedLimit: BigInt(rate) }),
    );
    if (done !== undefined) this.#state.setNotice(undefined);
  }

  async setDownloadLimit(id: bigint, typed: string): Promise<void> {
    const rate = parseRate(typed);
    if (rate === undefined) {
      return this.#state.setNotice(
        `Speed limit: expected a rate like 512K or 2M, got ${JSON.stringify(typed)}`,
      );
    }
    const done = await this.#call("set the speed limit", () =>
      this.#client.update({
        id,
        download: { speedLimit: BigInt(rate) },
        updateMask: { paths: ["speed_limit"] },
      }),
    );
    if (done !== undefined) this.#state.setNotice(undefined);
  }

  async #call<T>(what: string, task: () => Promise<T>): Promise<T | undefined> {
    try {
      return await task();
    } catch (error) {
      this.#state.setNotice(`Could not ${what}: ${ConnectError.from(error).rawMessage}`);
      return undefined;
    }
  }
}
