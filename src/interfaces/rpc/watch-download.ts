import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type WatchDownloadResponse, WatchDownloadResponseSchema } from "../../gen/dlm/v1/download_pb.ts";
import type { QueueState } from "../../manager/download-record.ts";
import type { Manager } from "../../manager/manager.ts";
import type { DownloadView, ManagerEvent } from "../../manager/manager-events.ts";
import { type DownloadState, type ProgressSnapshot, percentOf } from "../../progress/snapshot.ts";
import { toProgress } from "./progress-message.ts";

/**
 * Where a download that has no run in this process stands, in the one-download vocabulary of Progress:
 * waiting states (queued, paused, retrying) read as paused; the queue state itself travels in WatchAll.
 */
const IDLE_STATES: Readonly<Record<QueueState, DownloadState>> = {
  queued: "paused",
  paused: "paused",
  retrying: "paused",
  running: "running",
  verifying: "verifying",
  finished: "finished",
  failed: "failed",
};

/** A Progress-shaped view of a download that is not running: its stored counts and no segments. */
export function idleSnapshot(view: DownloadView): ProgressSnapshot {
  return {
    download: view.path ?? view.output ?? "",
    url: view.url,
    state: IDLE_STATES[view.state],
    bytesDownloaded: view.bytesDownloaded,
    totalBytes: view.totalBytes,
    percent: percentOf(view.bytesDownloaded, view.totalBytes),
    bytesPerSecond: 0,
    etaSeconds: undefined,
    activeConnections: 0,
    segments: [],
    elapsedMs: 0,
    ...(view.failure === undefined
      ? {}
      : { error: { code: view.failure.kind, message: view.failure.message } }),
  };
}

function message(snapshot: ProgressSnapshot): WatchDownloadResponse {
  return create(WatchDownloadResponseSchema, { progress: toProgress(snapshot) });
}

/**
 * The stream behind `WatchDownload`: one download's Progress (segments, per-connection rates) for the
 * dashboard's detail view. It subscribes to the manager first, then sends the current view; after that, on
 * every manager tick (at most 4 a second) the running download's live snapshot, and on every stored change
 * of it a fresh view. Only the latest of each is kept for a slow reader (nothing queues). It returns when
 * the download is removed.
 */
export async function* watchDownload(
  manager: Manager,
  id: number,
  signal: AbortSignal,
): AsyncGenerator<WatchDownloadResponse> {
  let ticked = false;
  let changed: DownloadView | undefined;
  let removed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = manager.subscribe((event: ManagerEvent) => {
    if (event.kind === "tick") ticked = true;
    else if (event.event.downloadId !== id) return;
    else if (event.event.kind === "removed") removed = true;
    else changed = { bytesPerSecond: 0, ...event.event.record };
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    const first = await manager.get(id);
    if (first === undefined) throw new ConnectError(`download ${id} not found`, Code.NotFound);
    yield message(manager.progress(id) ?? idleSnapshot(first));
    while (!signal.aborted) {
      if (!ticked && changed === undefined && !removed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if (removed) return;
      const live = manager.progress(id);
      const view = changed;
      ticked = false;
      changed = undefined;
      if (live !== undefined) yield message(live);
      else if (view !== undefined) yield message(idleSnapshot(view));
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
