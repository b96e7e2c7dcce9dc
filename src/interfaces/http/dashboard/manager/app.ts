/**
 * The manager's page as one component tree drawn from the page's one state ({@link PageState}): the
 * header and banner, the overview (counts per state, total rate, active slots, global limit, rate chart),
 * the add form, the queue (filters, bulk actions, the rows, pages), the open download's detail and the
 * removal dialog. Every button is one DownloadService call; what it changed comes back over WatchAll.
 */
import { type ComponentChild, Fragment, h } from "preact";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { AddForm } from "./add-form.ts";
import { DetailPanel } from "./detail-panel.ts";
import { Operations } from "./operations.ts";
import { Overview } from "./overview.ts";
import type { PageState } from "./page-state.ts";
import { TableHead, Toolbar } from "./queue-controls.ts";
import { QueueRows, type RowButtons } from "./queue-table.ts";
import { RemoveDialog } from "./remove-dialog.ts";
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
  // A layout effect runs in the same task as the DOM update, so the seq shown never lags the rows drawn.
  useLayoutEffect(() => {
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
