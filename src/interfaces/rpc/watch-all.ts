import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Download,
  DownloadSchema,
  type WatchAllResponse,
  WatchAllResponseSchema,
} from "../../gen/dlm/v1/download_pb.ts";
import type { StoredEvent } from "../../manager/download-record.ts";
import type { Manager } from "../../manager/manager.ts";
import type { ManagerEvent } from "../../manager/manager-events.ts";
import { toDownload, toStats } from "./download-message.ts";

/** What WatchAll reads of the manager: its events, its list and the stored event log. */
export type WatchAllSource = Pick<Manager, "subscribe" | "list"> & {
  readonly store: Pick<Manager["store"], "lastSeq" | "firstSeq" | "eventsAfter">;
};

/** Bounds of one watcher (the defaults suit `dlm serve`; tests make them small). */
export interface WatchAllLimits {
  /** Bytes of stored events a watcher may owe (queued, not yet taken by its stream) before it is ended. */
  readonly maxBacklogBytes: number;
  /** Stored events it may owe, whatever their size. */
  readonly maxBacklogEvents: number;
  /** Largest snapshot page, bytes of encoded downloads (a single larger row still goes alone). */
  readonly pageBytes: number;
}

/**
 * 4 MiB owed by one watcher ends it: a client that stopped reading costs the daemon at most this (the events
 * themselves are shared by all watchers), and one that reads resumes from its since_seq.
 */
export const WATCH_ALL_LIMITS: WatchAllLimits = {
  maxBacklogBytes: 4 * 1024 * 1024,
  maxBacklogEvents: 10_000,
  pageBytes: 256 * 1024,
};

/** Events read from the store per query while replaying. */
const REPLAY_PAGE = 500;

/** A stored event's message and encoded size, converted once however many watchers carry it. */
interface Converted {
  readonly message: WatchAllResponse;
  readonly bytes: number;
}

const converted = new WeakMap<StoredEvent, Converted>();

function storedMessage(event: StoredEvent): Converted {
  const cached = converted.get(event);
  if (cached !== undefined) return cached;
  const seq = BigInt(event.seq);
  const message =
    event.kind === "removed"
      ? create(WatchAllResponseSchema, { seq, event: { case: "removed", value: BigInt(event.downloadId) } })
      : create(WatchAllResponseSchema, {
          seq,
          event: { case: event.kind, value: toDownload({ bytesPerSecond: 0, ...event.record }) },
        });
  const result = { message, bytes: toBinary(WatchAllResponseSchema, message).length };
  converted.set(event, result);
  return result;
}

/**
 * One watcher's mailbox: every stored event in order, up to the limits (a slow reader past them is cut off,
 * not buffered without end), and only the latest tick (progress and stats coalesce, like the progress hub).
 */
class WatchMailbox {
  readonly stored: StoredEvent[] = [];
  tick: Extract<ManagerEvent, { kind: "tick" }> | undefined;
  overflowed = false;
  /** Encoded bytes of `stored`. */
  bytes = 0;
  readonly #limits: WatchAllLimits;
  #wake: (() => void) | undefined;

  constructor(limits: WatchAllLimits) {
    this.#limits = limits;
  }

  readonly push = (event: ManagerEvent): void => {
    if (event.kind === "tick") this.tick = event;
    else if (!this.overflowed) {
      const size = storedMessage(event.event).bytes;
      if (
        this.stored.length >= this.#limits.maxBacklogEvents ||
        this.bytes + size > this.#limits.maxBacklogBytes
      ) {
        // What is queued is dropped at once: the stream ends when its reader comes back for more.
        this.overflowed = true;
        this.stored.length = 0;
        this.bytes = 0;
      } else {
        this.stored.push(event.event);
        this.bytes += size;
      }
    }
    this.#wake?.();
  };

  /** Takes the queued stored events. */
  take(): StoredEvent[] {
    this.bytes = 0;
    return this.stored.splice(0);
  }

  /** Resolves when something arrives or `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.stored.length > 0 || this.tick !== undefined || this.overflowed || signal.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        this.#wake = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#wake = done;
      signal.addEventListener("abort", done);
    });
  }
}

/**
 * The snapshot as pages of at most `pageBytes` of encoded downloads, all tagged with `seq`: every page but
 * the last has a non-empty `next_page_token`, so a client knows the list is whole at the page without one.
 */
export function* snapshotPages(downloads: readonly Download[], seq: bigint, pageBytes: number) {
  let page: Download[] = [];
  let bytes = 0;
  const message = (last: boolean) =>
    create(WatchAllResponseSchema, {
      seq,
      event: { case: "snapshot", value: { downloads: page, nextPageToken: last ? "" : "more" } },
    });
  for (const download of downloads) {
    const size = toBinary(DownloadSchema, download).length;
    if (page.length > 0 && bytes + size > pageBytes) {
      yield message(false);
      page = [];
      bytes = 0;
    }
    page.push(download);
    bytes += size;
  }
  yield message(true);
}

/**
 * The stream behind `WatchAll`. It subscribes before reading the store, so nothing falls between the two:
 * with `sinceSeq` 0 it sends the list in pages (tagged with the last seq), else it replays every stored event
 * after `sinceSeq`; then live events, skipping any seq it already sent. Progress and stats come from the latest
 * manager tick, so a watcher gets them at most 4 times a second however slowly it reads. A watcher that owes
 * more than the limits is ended with RESOURCE_EXHAUSTED naming the since_seq to resume from.
 */
export async function* watchAll(
  manager: WatchAllSource,
  sinceSeq: number,
  signal: AbortSignal,
  limits: WatchAllLimits = WATCH_ALL_LIMITS,
): AsyncGenerator<WatchAllResponse> {
  const mailbox = new WatchMailbox(limits);
  const unsubscribe = manager.subscribe(mailbox.push);
  try {
    let last = sinceSeq;
    const head = await manager.store.lastSeq();
    if (sinceSeq > head) {
      throw new ConnectError(`since_seq ${sinceSeq} is past the last event (${head})`, Code.OutOfRange);
    }
    const first = await manager.store.firstSeq();
    if (sinceSeq > 0 && sinceSeq < first - 1) {
      throw new ConnectError(
        `since_seq ${sinceSeq} is older than the events kept (from ${first}); start again with since_seq 0`,
        Code.OutOfRange,
      );
    }
    if (sinceSeq === 0) {
      const downloads = (await manager.list()).map((view) => toDownload(view));
      last = head;
      yield* snapshotPages(downloads, BigInt(head), limits.pageBytes);
    } else {
      for (;;) {
        const page = await manager.store.eventsAfter(last, REPLAY_PAGE);
        for (const event of page) {
          last = event.seq;
          yield storedMessage(event).message;
        }
        if (page.length < REPLAY_PAGE) break;
      }
    }
    while (!signal.aborted) {
      await mailbox.wait(signal);
      if (mailbox.overflowed) {
        throw new ConnectError(
          `watcher fell too far behind (over ${limits.maxBacklogBytes} bytes or ${limits.maxBacklogEvents} events); reconnect with since_seq ${last}`,
          Code.ResourceExhausted,
        );
      }
      for (const event of mailbox.take()) {
        if (event.seq <= last) continue;
        last = event.seq;
        yield storedMessage(event).message;
      }
      const tick = mailbox.tick;
      mailbox.tick = undefined;
      if (tick !== undefined) {
        const seq = BigInt(last);
        for (const view of tick.progress) {
          yield create(WatchAllResponseSchema, { seq, event: { case: "progress", value: toDownload(view) } });
        }
        yield create(WatchAllResponseSchema, { seq, event: { case: "stats", value: toStats(tick.stats) } });
      }
    }
  } finally {
    unsubscribe();
  }
}
