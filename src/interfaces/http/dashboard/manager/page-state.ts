/**
 * The manager page's one state: the queue as WatchAll told it, the open download's detail as WatchDownload
 * tells it, and what the user chose on the page (filter, selection, the removal being asked). Components
 * read it and call its methods; nothing else holds page data. Pure (no DOM), so it is unit-tested under Bun;
 * {@link PageState.subscribe} tells the page to redraw (at most once a frame, see page.ts).
 */
import type { DownloadState, WatchAllResponse } from "../../../../gen/dlm/v1/download_pb.ts";
import { type Progress, State } from "../../../../gen/dlm/v1/progress_pb.ts";
import { SegmentOwners } from "../../../shared/segment-map.ts";
import { type RateSample, trimSamples } from "../rate-chart.ts";
import { type QueueFilter, QueueModel, type QueueView } from "./queue-model.ts";
import { displayName } from "./row-text.ts";

/** Rows per page: a page, not the whole queue, is in the DOM. */
export const PAGE_SIZE = 50;
/** Seconds of rate history a chart keeps. */
export const CHART_WINDOW_S = 180;

/** The connection pill: its words and its colour (a state name of page.css). */
export interface LinkStatus {
  readonly text: string;
  readonly state: "" | "running" | "paused" | "failed";
}

/** The banner above the page. */
export interface Notice {
  readonly text: string;
  readonly kind: "error" | "info" | "ok";
}

/** The download whose detail is open, and what its WatchDownload stream said last. */
export interface DetailState {
  readonly id: bigint;
  readonly progress: Progress | undefined;
  /** Who fetched each segment (snapshots name an owner only while it fetches). */
  readonly owners: SegmentOwners;
  /** The download's rate over time (its own clock: elapsed seconds of the run). */
  readonly samples: readonly RateSample[];
}

/** Removal being asked in the dialog: these ids (`name` when one). */
export interface RemoveQuestion {
  readonly ids: readonly bigint[];
  readonly name: string | undefined;
}

/** Everything the page shows; see the file comment. */
export class PageState {
  /** The queue, from WatchAll only. */
  readonly queue = new QueueModel();
  readonly #listeners = new Set<() => void>();
  #link: LinkStatus = { text: "connecting", state: "" };
  #notice: Notice | undefined;
  #filter: QueueFilter = { state: undefined, label: undefined, page: 0, pageSize: PAGE_SIZE };
  #selected = new Set<bigint>();
  #detail: DetailState | undefined;
  #removing: RemoveQuestion | undefined;
  #globalSamples: RateSample[] = [];
  #addResult = "";

  get link(): LinkStatus {
    return this.#link;
  }
  get notice(): Notice | undefined {
    return this.#notice;
  }
  get filter(): QueueFilter {
    return this.#filter;
  }
  get selected(): ReadonlySet<bigint> {
    return this.#selected;
  }
  get detail(): DetailState | undefined {
    return this.#detail;
  }
  get removing(): RemoveQuestion | undefined {
    return this.#removing;
  }
  /** What the last submit of the add form did ("2 added, 1 refused (kept above)"). */
  get addResult(): string {
    return this.#addResult;
  }
  /** The queue's total rate over time (seconds of the page's monotonic clock). */
  get globalSamples(): readonly RateSample[] {
    return this.#globalSamples;
  }

  /** Calls `listener` after every change; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One WatchAll message, received at `seconds` of a monotonic clock (for the rate chart). */
  applyWatch(message: WatchAllResponse, seconds: number): void {
    this.queue.apply(message);
    const event = message.event;
    if (event.case === "stats") this.#sample(this.#globalSamples, seconds, event.value.bytesPerSecond);
    if (event.case === "removed" && this.#selected.has(event.value)) {
      this.#selected = new Set([...this.#selected].filter((id) => id !== event.value));
    }
    if (this.#detail !== undefined && this.queue.get(this.#detail.id) === undefined) this.#detail = undefined;
    this.#changed();
  }

  /** One WatchDownload message for the open detail (ignored when another one is open by now). */
  applyDetail(id: bigint, progress: Progress): void {
    const detail = this.#detail;
    if (detail?.id !== id) return;
    const elapsed = Number(progress.elapsedMs) / 1000;
    const last = detail.samples.at(-1)?.t ?? 0;
    // A new run (resumed, retried) starts its clock again: a fresh map and chart with it.
    const fresh = elapsed < last;
    const samples = fresh ? [] : [...detail.samples];
    if (progress.state === State.RUNNING || samples.length > 0) {
      this.#sample(samples, elapsed, progress.bytesPerSecond);
    }
    this.#detail = { id, progress, owners: fresh ? new SegmentOwners() : detail.owners, samples };
    this.#changed();
  }

  /** Forgets the queue (the events since this page's last one are gone): a snapshot comes next. */
  clearQueue(): void {
    this.queue.clear();
    this.#changed();
  }

  /** Puts back a list saved on the way out (queue-model's save); false when it is not one. */
  restoreQueue(saved: string): boolean {
    const restored = this.queue.restore(saved);
    if (restored) this.#changed();
    return restored;
  }

  setLink(text: string, state: LinkStatus["state"]): void {
    this.#link = { text, state };
    this.#changed();
  }

  setAddResult(text: string): void {
    this.#addResult = text;
    this.#changed();
  }

  /** Shows `text` in the banner, or hides it (undefined). */
  setNotice(text: string | undefined, kind: Notice["kind"] = "error"): void {
    this.#notice = text === undefined ? undefined : { text, kind };
    this.#changed();
  }

  /** The page of the queue the filter asks for; a label no longer in the queue counts as "all". */
  view(): QueueView {
    const label = this.#filter.label;
    const filter =
      label !== undefined && !this.queue.labels().includes(label)
        ? { ...this.#filter, label: undefined }
        : this.#filter;
    return this.queue.view(filter);
  }

  /** Shows only `state` (undefined: all), from the first page. */
  filterState(state: DownloadState | undefined): void {
    this.#setFilter({ ...this.#filter, state, page: 0 });
  }

  /** Shows only `label` (undefined: all), from the first page. */
  filterLabel(label: string | undefined): void {
    this.#setFilter({ ...this.#filter, label, page: 0 });
  }

  /** Goes `by` pages on (clamped when drawn). */
  turnPage(by: number): void {
    this.#setFilter({ ...this.#filter, page: this.view().page + by });
  }

  /** Ticks or clears `ids`. */
  select(ids: readonly bigint[], on: boolean): void {
    const next = new Set(this.#selected);
    for (const id of ids) {
      if (on) next.add(id);
      else next.delete(id);
    }
    this.#selected = next;
    this.#changed();
  }

  /** The ticked downloads still in the queue. */
  selectedIds(): bigint[] {
    return [...this.#selected].filter((id) => this.queue.get(id) !== undefined);
  }

  /** Opens the detail of `id` (its stream starts with the panel). */
  openDetail(id: bigint): void {
    this.#detail = { id, progress: undefined, owners: new SegmentOwners(), samples: [] };
    this.#changed();
  }

  closeDetail(): void {
    this.#detail = undefined;
    this.#changed();
  }

  /** Asks whether to remove `ids` (the dialog opens). */
  askRemove(ids: readonly bigint[]): void {
    if (ids.length === 0) return;
    const one = ids.length === 1 ? this.queue.get(ids[0] ?? 0n) : undefined;
    this.#removing = { ids, name: one === undefined ? undefined : displayName(one) };
    this.#changed();
  }

  /** The dialog closed (the removal, if chosen, is under way). */
  answered(): void {
    this.#removing = undefined;
    this.#changed();
  }

  /** Redraw without new data (a retry countdown's second). */
  tick(): void {
    this.#changed();
  }

  #setFilter(filter: QueueFilter): void {
    this.#filter = filter;
    this.#changed();
  }

  #sample(samples: RateSample[], seconds: number, rate: number): void {
    samples.push({ t: seconds, rate });
    trimSamples(samples, seconds, CHART_WINDOW_S);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
