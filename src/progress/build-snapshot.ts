import type { EngineStatus } from "../engine/download.ts";
import type { WorkerActivity } from "../engine/worker.ts";
import type { DlmError } from "../errors.ts";
import type { RateMeter } from "./meter.ts";
import {
  type DownloadState,
  type ProgressSnapshot,
  percentOf,
  type SegmentProgress,
  type SourceProgress,
} from "./snapshot.ts";

/** Inputs of one snapshot. */
export interface SnapshotInput {
  readonly output: string;
  readonly url: string;
  readonly state: DownloadState;
  readonly status: EngineStatus | undefined;
  readonly meter: RateMeter;
  /** Monotonic ms now (the clock the engine stamps `lastByteAt` with). */
  readonly nowMs: number;
  /** The download's stall timeout, ms: a connection silent for half of it is shown as stalled. */
  readonly stallTimeoutMs: number;
  readonly elapsedMs: number;
  readonly error: DlmError | undefined;
}

/**
 * Share of the stall timeout after which a silent connection shows as `stalled`: early enough to be seen
 * before the watchdog aborts it (at the full timeout, after which the segment shows `retrying`).
 */
export const STALLED_SHARE = 0.5;

/**
 * Turns the engine's plain counters into the snapshot every watcher sees (a new object each time). Each
 * segment's rate and slow flag are the engine's own (the ones it restarts slow connections by), never
 * re-derived here or in a client.
 */
export function buildSnapshot(input: SnapshotInput): ProgressSnapshot {
  const { status, meter } = input;
  const done = status?.bytesDone ?? 0;
  const total = status?.totalBytes;
  const active = status?.activity ?? [];
  const bySegment = new Map(active.map((a) => [a.segment.id, a]));
  const segments: SegmentProgress[] = (status?.segments ?? []).map((s) => {
    const activity = bySegment.get(s.id);
    const complete = s.done >= s.end - s.start + 1;
    return {
      id: s.id,
      start: s.start,
      end: s.end,
      done: s.done,
      worker: activity?.worker,
      state: complete ? "done" : activity === undefined ? "pending" : connectionState(activity, input),
      bytesPerSecond: activity?.bytesPerSecond ?? 0,
      slow: activity?.slowSince !== undefined,
      retries: activity?.retries ?? 0,
      ...(activity === undefined ? {} : { source: status?.sourceOf?.(activity.worker) }),
    };
  });
  const sources: SourceProgress[] = (status?.sources ?? []).map((s) => {
    const mine = active.filter((a) => status?.sourceOf?.(a.worker) === s.id);
    return {
      id: s.id,
      url: displayUrl(s.url),
      state: s.state,
      bytes: s.bytes,
      bytesPerSecond: mine.reduce((sum, a) => sum + a.bytesPerSecond, 0),
      connections: mine.length,
    };
  });
  const running = input.state === "running";
  const rate = running ? meter.rate() : 0;
  return {
    download: input.output,
    url: input.url,
    state: input.state,
    bytesDownloaded: done,
    totalBytes: total,
    percent: percentOf(done, total),
    bytesPerSecond: rate,
    etaSeconds: running ? meter.eta(total === undefined ? undefined : total - done) : undefined,
    activeConnections: active.length,
    segments,
    sources,
    elapsedMs: Math.round(input.elapsedMs),
    ...(input.error === undefined ? {} : { error: { code: input.error.code, message: input.error.message } }),
  };
}

/**
 * A source's URL as watchers see it: origin and path. Userinfo, query and fragment are left out because
 * signed links and mirrors carry tokens there, and a watcher (the dashboard, `dlm watch`) must not learn them.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "";
  }
}

function connectionState(
  activity: WorkerActivity,
  input: Pick<SnapshotInput, "nowMs" | "stallTimeoutMs">,
): SegmentProgress["state"] {
  if (activity.state !== "active") return activity.state;
  const silentMs = input.nowMs - activity.lastByteAt;
  return silentMs >= input.stallTimeoutMs * STALLED_SHARE ? "stalled" : "active";
}
