/**
 * The manager's dashboard (`GET /` of `dlm serve`): every download of the queue on one page, live. All data
 * arrives over one Connect-Web server stream, `DownloadService.WatchAll` (binary protobuf), resumed with
 * `since_seq` after a drop or a reload (the list is kept in this tab's sessionStorage on the way out), so
 * nothing is missed and nothing is polled; every button is a DownloadService call. The token handling is the
 * download page's (token.ts). Over 300 lines on purpose: this is the page's wiring (the stream, the buttons,
 * the limits, the filters); the parts with logic live beside it (queue-model, row-text, queue-table,
 * detail-panel, add-form, remove-dialog).
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { DownloadService, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../../shared/download-states.ts";
import { formatRate } from "../../../shared/format.ts";
import { ChartView } from "../chart-view.ts";
import { $ } from "../segments-view.ts";
import { bearer, notice, TOKEN_KEY, takeToken } from "../token.ts";
import { wireAddForm } from "./add-form.ts";
import { DetailPanel } from "./detail-panel.ts";
import { FILTER_STATES, type QueueFilter, QueueModel } from "./queue-model.ts";
import { QueueTable } from "./queue-table.ts";
import { askRemove } from "./remove-dialog.ts";
import { displayName, parseRate, rateInput } from "./row-text.ts";

/**
 * sessionStorage key of the list kept across a reload: one per token, since each `dlm serve` run has its own
 * (a list saved for another run, on the same port, must not be replayed onto this one's events).
 */
const LIST_KEY = "dlm-queue";
/** Rows per page: a page, not the whole queue, is in the DOM. */
const PAGE_SIZE = 50;

const token = takeToken();
const client = createClient(
  DownloadService,
  createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer(token)] }),
);
const model = new QueueModel();
const table = new QueueTable($("rows"));
const detail = new DetailPanel(client);
const chart = new ChartView({ line: $("global-line"), area: $("global-area"), caption: $("global-max") });
const selected = new Set<bigint>();
let filter: QueueFilter = { state: undefined, label: undefined, page: 0, pageSize: PAGE_SIZE };
let drawPending = false;

const input = (id: string) => $(id) as HTMLInputElement;
const button = (id: string) => $(id) as HTMLButtonElement;

function setLink(text: string, state: string): void {
  const pill = $("link");
  pill.textContent = text;
  pill.dataset["state"] = state;
}

/** Runs a DownloadService call; a failure is shown in the banner. */
async function call<T>(what: string, task: () => Promise<T>): Promise<T | undefined> {
  try {
    const result = await task();
    return result;
  } catch (error) {
    notice(`Could not ${what}: ${ConnectError.from(error).rawMessage}`);
    return undefined;
  }
}

function schedule(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

/** Redraws everything from the model (rows only where their message changed). */
function draw(): void {
  const view = model.view(filter);
  filter = { ...filter, page: view.page };
  const focused = document.activeElement?.closest<HTMLElement>(".qrow[data-id]");
  const focusedAction = (document.activeElement as HTMLElement | null)?.dataset["action"];
  table.render(view.rows, selected, Date.now());
  // A row that moved was taken out and put back: give its button the focus back (keyboard users).
  if (focused?.dataset["id"] !== undefined && document.activeElement === document.body) {
    $("rows")
      .querySelector<HTMLElement>(
        `.qrow[data-id="${focused.dataset["id"]}"] [data-action="${focusedAction}"]`,
      )
      ?.focus();
  }
  const first = view.matching === 0 ? 0 : view.page * PAGE_SIZE + 1;
  $("page-info").textContent =
    `${first}–${first + view.rows.length - Math.min(1, first)} of ${view.matching}`;
  button("page-prev").disabled = view.page === 0;
  button("page-next").disabled = view.page >= view.pages - 1;
  $("empty").hidden = model.size > 0;
  drawCounts();
  drawStats();
  const pageIds = view.rows.map((d) => d.id);
  const onPage = pageIds.filter((id) => selected.has(id)).length;
  const selectPage = input("select-page");
  selectPage.checked = onPage > 0 && onPage === pageIds.length;
  selectPage.indeterminate = onPage > 0 && onPage < pageIds.length;
  $("selected-count").textContent = `${selected.size} selected`;
  for (const id of ["bulk-pause", "bulk-resume", "bulk-remove"]) button(id).disabled = selected.size === 0;
  detail.update(detail.id === undefined ? undefined : model.get(detail.id));
  document.body.dataset["seq"] = String(model.seq);
}

let countsDrawn = "";
let filtersDrawn = "";
function drawCounts(): void {
  const counts = model.counts();
  const countsKey = [...counts].join();
  if (countsKey !== countsDrawn) {
    countsDrawn = countsKey;
    const items = FILTER_STATES.map((state) => {
      const div = document.createElement("div");
      div.dataset["state"] = stateName(state);
      const dt = document.createElement("dt");
      dt.textContent = stateName(state);
      const dd = document.createElement("dd");
      dd.textContent = String(counts.get(state) ?? 0);
      div.append(dt, dd);
      return div;
    });
    $("counts").replaceChildren(...items);
  }
  const stateSelect = $("filter-state") as HTMLSelectElement;
  const labelSelect = $("filter-label") as HTMLSelectElement;
  // Not while one is open or focused: replacing its options would close it under the user (redrawn on blur).
  if (document.activeElement === stateSelect || document.activeElement === labelSelect) return;
  const labels = model.labels();
  const filtersKey = `${countsKey}|${labels.join()}`;
  if (filtersKey === filtersDrawn) return;
  filtersDrawn = filtersKey;
  const stateValue = stateSelect.value;
  stateSelect.replaceChildren(
    new Option(`all (${model.size})`, ""),
    ...FILTER_STATES.map((s) => new Option(`${stateName(s)} (${counts.get(s) ?? 0})`, String(s))),
  );
  stateSelect.value = stateValue;
  const labelValue = labelSelect.value;
  labelSelect.replaceChildren(new Option("all", ""), ...labels.map((l) => new Option(l, l)));
  labelSelect.value = labels.includes(labelValue) ? labelValue : "";
  if (filter.label !== undefined && !labels.includes(filter.label)) {
    // The label is gone from the queue: show everything again rather than an empty list named "all".
    filter = { ...filter, label: undefined };
    schedule();
  }
}

function drawStats(): void {
  const stats = model.stats;
  const active = model.counts().get(DownloadState.RUNNING) ?? 0;
  $("summary").textContent = `${model.size} downloads, ${active} running`;
  if (stats === undefined) return;
  $("global-rate").textContent = formatRate(stats.bytesPerSecond);
  $("global-active").textContent = `${stats.active} of ${stats.maxActive}`;
  const limit = input("global-limit");
  if (document.activeElement !== limit) limit.value = rateInput(stats.globalSpeedLimit);
}

function refused(message: string, label: string): void {
  notice(message);
  setLink(label, "failed");
}

/** Follows WatchAll from the last stored event this page saw, reconnecting with backoff. */
async function watchQueue(): Promise<void> {
  if (token === "") {
    return refused(
      "This page needs the link dlm serve printed when it started (dlm: dashboard http://…/#token=…): the token after #token= lets it talk to dlm.",
      "no token",
    );
  }
  let delay = 500;
  for (;;) {
    try {
      for await (const message of client.watchAll({ sinceSeq: model.seq })) {
        if (delay > 0) {
          notice(undefined);
          setLink("live", "running");
          delay = 0;
        }
        const touched = model.apply(message);
        if (touched === "stats" && message.event.case === "stats") {
          chart.add(performance.now() / 1000, message.event.value.bytesPerSecond);
        }
        schedule();
      }
      throw new ConnectError("the stream ended", Code.Unavailable);
    } catch (error) {
      const err = ConnectError.from(error);
      if (err.code === Code.Unauthenticated) {
        sessionStorage.removeItem(TOKEN_KEY);
        return refused(
          "Wrong or expired access token: this link belongs to another dlm serve. Open the dashboard URL the running dlm serve printed (dlm: dashboard …).",
          "not authorised",
        );
      }
      if (err.code === Code.PermissionDenied)
        return refused(`dlm refused this page: ${err.rawMessage}`, "refused");
      if (err.code === Code.OutOfRange) {
        // The events since this page's last one are gone (or this is another queue): start from a snapshot.
        model.clear();
        delay = 500;
        continue;
      }
      delay = Math.min(Math.max(delay * 2, 500), 8_000);
      setLink("reconnecting", "paused");
      notice(
        `Lost contact with dlm (${err.rawMessage}). Reconnecting in ${(delay / 1000).toFixed(1)} s…`,
        "info",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.8 + Math.random() * 0.4)));
  }
}

async function command(kind: "pause" | "resume", ids: readonly bigint[]): Promise<void> {
  if (ids.length === 0) return;
  const selector = { ids: [...ids] };
  await call(`${kind} ${ids.length === 1 ? "the download" : `${ids.length} downloads`}`, () =>
    kind === "pause"
      ? client.pause({ selector }).then(() => undefined)
      : client.resume({ selector }).then(() => undefined),
  );
}

/** Swaps `id` with its neighbour in queue order (priority and position, so it moves exactly one place). */
async function move(id: bigint, direction: -1 | 1): Promise<void> {
  const d = model.get(id);
  const other = model.neighbour(id, direction);
  if (d === undefined || other === undefined) return;
  const updateMask = { paths: ["priority", "position"] };
  await call("move the download", async () => {
    await client.update({
      id: d.id,
      download: { priority: other.priority, position: other.position },
      updateMask,
    });
    await client.update({
      id: other.id,
      download: { priority: d.priority, position: d.position },
      updateMask,
    });
  });
}

async function setGlobalLimit(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const value = input("global-limit").value;
  const rate = parseRate(value);
  if (rate === undefined)
    return notice(`Global limit: expected a rate like 512K or 2M, got ${JSON.stringify(value)}`);
  if (
    (await call("set the global limit", () => client.setGlobalLimit({ speedLimit: BigInt(rate) }))) !==
    undefined
  )
    notice(undefined);
  input("global-limit").blur();
}

async function setDownloadLimit(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const id = detail.id;
  const value = input("detail-limit").value;
  const rate = parseRate(value);
  if (id === undefined) return;
  if (rate === undefined)
    return notice(`Speed limit: expected a rate like 512K or 2M, got ${JSON.stringify(value)}`);
  const done = await call("set the speed limit", () =>
    client.update({ id, download: { speedLimit: BigInt(rate) }, updateMask: { paths: ["speed_limit"] } }),
  );
  if (done !== undefined) notice(undefined);
  input("detail-limit").blur();
}

function onRowClick(event: MouseEvent): void {
  const target = (event.target as HTMLElement).closest<HTMLElement>("[data-action]");
  const id = target?.closest<HTMLElement>(".qrow")?.dataset["id"];
  if (target === null || target === undefined || id === undefined) return;
  const key = BigInt(id);
  const d = model.get(key);
  switch (target.dataset["action"]) {
    case "select":
      if ((target as HTMLInputElement).checked) selected.add(key);
      else selected.delete(key);
      schedule();
      return;
    case "open":
      if (d !== undefined) detail.open(d);
      return;
    case "toggle":
      void command(target.dataset["command"] === "pause" ? "pause" : "resume", [key]);
      return;
    case "up":
    case "down":
      void move(key, target.dataset["action"] === "up" ? -1 : 1);
      return;
    case "remove":
      void removeAsked([key]);
      return;
  }
}

/** Asks (remove-dialog.ts), then removes and forgets the removed ids' selection. */
async function removeAsked(ids: readonly bigint[]): Promise<void> {
  const one = ids.length === 1 ? model.get(ids[0] ?? 0n) : undefined;
  const choice = await askRemove(ids.length, one === undefined ? undefined : displayName(one));
  if (choice === undefined) return;
  const removed = await call("remove", () =>
    client.remove({ selector: { ids: [...ids] }, deleteFiles: choice === "delete" }),
  );
  for (const id of removed?.ids ?? []) selected.delete(id);
  schedule();
}

/** Closes the detail and gives the focus back to its row's name (keyboard users land where they were). */
function closeDetail(): void {
  const id = detail.id;
  detail.close();
  $("rows").querySelector<HTMLElement>(`.qrow[data-id="${id}"] [data-action="open"]`)?.focus();
}

function selectedIds(): bigint[] {
  return [...selected].filter((id) => model.get(id) !== undefined);
}

function wire(): void {
  $("rows").addEventListener("click", onRowClick);
  wireAddForm(client);
  $("global-limit-form").addEventListener("submit", (e) => void setGlobalLimit(e as SubmitEvent));
  $("detail-limit-form").addEventListener("submit", (e) => void setDownloadLimit(e as SubmitEvent));
  $("detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && detail.id !== undefined && !($("remove-dialog") as HTMLDialogElement).open) {
      closeDetail();
    }
  });
  button("bulk-pause").addEventListener("click", () => void command("pause", selectedIds()));
  button("bulk-resume").addEventListener("click", () => void command("resume", selectedIds()));
  button("bulk-remove").addEventListener("click", () => void removeAsked(selectedIds()));
  input("select-page").addEventListener("change", () => {
    const rows = model.view(filter).rows;
    const all = input("select-page").checked;
    for (const d of rows) {
      if (all) selected.add(d.id);
      else selected.delete(d.id);
    }
    schedule();
  });
  $("filter-state").addEventListener("change", () => {
    const value = ($("filter-state") as HTMLSelectElement).value;
    filter = { ...filter, state: value === "" ? undefined : (Number(value) as DownloadState), page: 0 };
    schedule();
  });
  for (const id of ["filter-state", "filter-label"]) $(id).addEventListener("blur", schedule);
  $("filter-label").addEventListener("change", () => {
    const value = ($("filter-label") as HTMLSelectElement).value;
    filter = { ...filter, label: value === "" ? undefined : value, page: 0 };
    schedule();
  });
  button("page-prev").addEventListener("click", () => {
    filter = { ...filter, page: filter.page - 1 };
    schedule();
  });
  button("page-next").addEventListener("click", () => {
    filter = { ...filter, page: filter.page + 1 };
    schedule();
  });
  // The list goes with the tab's session on the way out, so a reload resumes from its last event.
  addEventListener("pagehide", () => {
    if (token !== "") sessionStorage.setItem(LIST_KEY, `${token} ${model.save()}`);
  });
  // A retrying row counts down to its next try: a local clock, no request.
  setInterval(() => {
    if ((model.counts().get(DownloadState.RETRYING) ?? 0) > 0) schedule();
  }, 1000);
}

wire();
const saved = sessionStorage.getItem(LIST_KEY);
sessionStorage.removeItem(LIST_KEY);
if (token !== "" && saved?.startsWith(`${token} `) === true && model.restore(saved.slice(token.length + 1))) {
  draw();
}
void watchQueue();
