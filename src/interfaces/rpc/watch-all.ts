import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type WatchAllResponse, WatchAllResponseSchema } from "../../gen/dlm/v1/download_pb.ts";
import type { StoredEvent } from "../../manager/download-record.ts";
import type { Manager } from "../../manager/manager.ts";
import type { ManagerEvent } from "../../manager/manager-events.ts";
import { toDownload, toStats } from "./download-message.ts";

/** Stored events a watcher may fall behind by before its stream ends (it reconnects with since_seq). */
const MAX_BACKLOG = 10_000;
/** Events read from the store per query while replaying. */
const REPLAY_PAGE = 500;

/**
 * One watcher's mailbox: every stored event in order (a slow reader past MAX_BACKLOG is cut off, not
 * buffered without end), and only the latest tick (progress and stats coalesce, like the progress hub).
 */
class WatchMailbox {
  readonly stored: StoredEvent[] = [];
  tick: Extract<ManagerEvent, { kind: "tick" }> | undefined;
  overflowed = false;
  #wake: (() => void) | undefined;

  readonly push = (event: ManagerEvent): void => {
    if (event.kind === "tick") this.tick = event;
    else if (this.stored.length >= MAX_BACKLOG) this.overflowed = true;
    else this.stored.push(event.event);
    this.#wake?.();
  };

  /** Resolves when something arrives or `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.stored.length > 0 || this.tick !== undefined || signal.aborted) return Promise.resolve();
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

function storedMessage(event: StoredEvent): WatchAllResponse {
  const seq = BigInt(event.seq);
  if (event.kind === "removed") {
    return create(WatchAllResponseSchema, {
      seq,
      event: { case: "removed", value: BigInt(event.downloadId) },
    });
  }
  const download = toDownload({ bytesPerSecond: 0, ...event.record });
  return create(WatchAllResponseSchema, { seq, event: { case: event.kind, value: download } });
}

/**
 * The stream behind `WatchAll`. It subscribes before reading the store, so nothing falls between the two:
 * with `sinceSeq` 0 it sends the list (tagged with the last seq), else it replays every stored event after
 * `sinceSeq`; then live events, skipping any seq it already sent. Progress and stats come from the latest
 * manager tick, so a watcher gets them at most 4 times a second however slowly it reads.
 */
export async function* watchAll(
  manager: Manager,
  sinceSeq: number,
  signal: AbortSignal,
): AsyncGenerator<WatchAllResponse> {
  const mailbox = new WatchMailbox();
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
      yield create(WatchAllResponseSchema, {
        seq: BigInt(head),
        event: { case: "snapshot", value: { downloads } },
      });
    } else {
      for (;;) {
        const page = await manager.store.eventsAfter(last, REPLAY_PAGE);
        for (const event of page) {
          last = event.seq;
          yield storedMessage(event);
        }
        if (page.length < REPLAY_PAGE) break;
      }
    }
    while (!signal.aborted) {
      await mailbox.wait(signal);
      if (mailbox.overflowed) {
        throw new ConnectError(
          `watcher fell more than ${MAX_BACKLOG} events behind; reconnect with since_seq ${last}`,
          Code.ResourceExhausted,
        );
      }
      for (const event of mailbox.stored.splice(0)) {
        if (event.seq <= last) continue;
        last = event.seq;
        yield storedMessage(event);
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
