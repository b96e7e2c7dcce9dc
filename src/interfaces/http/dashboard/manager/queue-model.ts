/**
 * What the manager's page knows of the queue, built only from `WatchAll` messages: every download by id, the
 * last stored sequence number (where a reconnect resumes), and the latest counters. Pure (no DOM), so the
 * page's bookkeeping is unit-tested under Bun; the page draws from {@link QueueModel.view}.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Download,
  DownloadState,
  ListResponseSchema,
  type StatsResponse,
  type WatchAllResponse,
} from "../../../../gen/dlm/v1/download_pb.ts";
import { compareQueueOrder, type QueueOrdered } from "../../../../manager/queue-order.ts";

/** States a user can filter by, in lifecycle order (REMOVED never stays in the list). */
export const FILTER_STATES: readonly DownloadState[] = [
  DownloadState.QUEUED,
  DownloadState.RUNNING,
  DownloadState.PAUSED,
  DownloadState.RETRYING,
  DownloadState.VERIFYING,
  DownloadState.FINISHED,
  DownloadState.FAILED,
];

/** Which downloads the list shows, and which page of them. */
export interface QueueFilter {
  /** Only this state (undefined: all). */
  readonly state: DownloadState | undefined;
  /** Only downloads with this label (undefined: all). */
  readonly label: string | undefined;
  /** 0-based page. */
  readonly page: number;
  readonly pageSize: number;
}

/** One page of the filtered list. */
export interface QueueView {
  readonly rows: readonly Download[];
  /** Downloads matching the filter on all pages. */
  readonly matching: number;
  /** The page shown (clamped to the last one). */
  readonly page: number;
  readonly pages: number;
}

/** Queue order, as List and the scheduler use it (manager/queue-order.ts, the one comparator). */
export function queueOrder(a: Download, b: Download): number {
  return compareQueueOrder(orderKey(a), orderKey(b));
}

function orderKey(d: Download): QueueOrdered {
  return { priority: d.priority, position: Number(d.position), id: Number(d.id) };
}

/** The queue as the page knows it. */
export class QueueModel {
  readonly #downloads = new Map<bigint, Download>();
  /** Sorted ids; rebuilt lazily after a stored event (progress never reorders). */
  #order: Download[] | undefined;
  #seq = 0n;
  /** False between the pages of a snapshot (every page but the last has a next_page_token). */
  #snapshotWhole = true;
  #stats: StatsResponse | undefined;
  /** Counts per state and labels, kept until a stored event (the page draws them at every message). */
  #counts: Map<DownloadState, number> | undefined;
  #labels: string[] | undefined;

  /** Sequence number of the last stored event applied: a reconnect asks for everything after it. */
  get seq(): bigint {
    return this.#seq;
  }

  /** The latest counters (rate, active slots, global limit), once one arrived. */
  get stats(): StatsResponse | undefined {
    return this.#stats;
  }

  get size(): number {
    return this.#downloads.size;
  }

  get(id: bigint): Download | undefined {
    return this.#downloads.get(id);
  }

  /**
   * Applies one message. Returns what it touched: "list" when rows were added, removed or changed (order and
   * filters may move), "progress" for a live update of one row, "stats" for the counters.
   */
  apply(message: WatchAllResponse): "list" | "progress" | "stats" {
    const event = message.event;
    switch (event.case) {
      case "snapshot":
        if (this.#snapshotWhole) this.#downloads.clear();
        this.#snapshotWhole = event.value.nextPageToken === "";
        for (const d of event.value.downloads) this.#downloads.set(d.id, d);
        this.#forget();
        this.#seq = message.seq;
        return "list";
      case "added":
      case "changed":
        this.#downloads.set(event.value.id, event.value);
        this.#stored(message.seq);
        return "list";
      case "removed":
        this.#downloads.delete(event.value);
        this.#stored(message.seq);
        return "list";
      case "progress": {
        // A progress message may trail a change that already moved the row on (it was read before): only a
        // row still running takes its figures.
        const known = this.#downloads.get(event.value.id);
        if (known !== undefined && known.state === DownloadState.RUNNING) {
          this.#downloads.set(event.value.id, event.value);
          if (event.value.state !== known.state) this.#counts = undefined;
        }
        return "progress";
      }
      case "stats":
        this.#stats = event.value;
        return "stats";
      default:
        return "stats";
    }
  }

  /** Every download in queue order. */
  ordered(): readonly Download[] {
    this.#order ??= [...this.#downloads.values()].sort(queueOrder);
    return this.#order.map((d) => this.#downloads.get(d.id) ?? d);
  }

  /** The page of downloads `filter` asks for. */
  view(filter: QueueFilter): QueueView {
    const matching = this.ordered().filter(
      (d) =>
        (filter.state === undefined || d.state === filter.state) &&
        (filter.label === undefined || d.labels.includes(filter.label)),
    );
    const pages = Math.max(1, Math.ceil(matching.length / filter.pageSize));
    const page = Math.min(Math.max(0, filter.page), pages - 1);
    return {
      rows: matching.slice(page * filter.pageSize, (page + 1) * filter.pageSize),
      matching: matching.length,
      page,
      pages,
    };
  }

  /** How many downloads are in each state. */
  counts(): Map<DownloadState, number> {
    if (this.#counts !== undefined) return this.#counts;
    const counts = new Map<DownloadState, number>();
    for (const d of this.#downloads.values()) counts.set(d.state, (counts.get(d.state) ?? 0) + 1);
    this.#counts = counts;
    return counts;
  }

  /** Every label in use, sorted. */
  labels(): string[] {
    if (this.#labels !== undefined) return this.#labels;
    const labels = new Set<string>();
    for (const d of this.#downloads.values()) for (const label of d.labels) labels.add(label);
    this.#labels = [...labels].sort();
    return this.#labels;
  }

  /**
   * The download next to `id` in queue order (`-1` before it, `1` after it), to swap places with; undefined
   * at either end.
   */
  neighbour(id: bigint, direction: -1 | 1): Download | undefined {
    const order = this.ordered();
    const at = order.findIndex((d) => d.id === id);
    return at === -1 ? undefined : order[at + direction];
  }

  /**
   * The list and its sequence number as one string, for the tab's sessionStorage: a reloaded page draws it
   * at once and asks WatchAll only for what happened since (binary protobuf, base64).
   */
  save(): string {
    const list = create(ListResponseSchema, { downloads: [...this.#downloads.values()] });
    const bytes = toBinary(ListResponseSchema, list);
    let binary = "";
    // In slices: spreading a whole list's bytes into one call overflows the argument limit.
    for (let i = 0; i < bytes.length; i += 8192) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
    }
    return `${this.#seq}:${btoa(binary)}`;
  }

  /** Restores what {@link save} wrote; false (and nothing changed) if it is not such a string. */
  restore(saved: string): boolean {
    const match = /^(\d+):([A-Za-z0-9+/=]*)$/.exec(saved);
    if (match?.[1] === undefined || match[2] === undefined) return false;
    let list: ReturnType<typeof fromBinary<typeof ListResponseSchema>>;
    try {
      list = fromBinary(
        ListResponseSchema,
        Uint8Array.from(atob(match[2]), (c) => c.charCodeAt(0)),
      );
    } catch {
      return false;
    }
    this.#downloads.clear();
    for (const d of list.downloads) this.#downloads.set(d.id, d);
    this.#forget();
    this.#seq = BigInt(match[1]);
    return true;
  }

  /** Forgets everything (before a fresh snapshot). */
  clear(): void {
    this.#downloads.clear();
    this.#forget();
    this.#seq = 0n;
  }

  /** The list changed: order, counts and labels are computed again when next asked. */
  #forget(): void {
    this.#order = undefined;
    this.#counts = undefined;
    this.#labels = undefined;
  }

  #stored(seq: bigint): void {
    this.#forget();
    if (seq > this.#seq) this.#seq = seq;
  }
}
