import type { EngineStatus } from "../engine/download.ts";
import type { DlmError } from "../errors.ts";
import type { RateMeter } from "./meter.ts";
import { type DownloadState, type ProgressSnapshot, percentOf, type SegmentProgress } from "./snapshot.ts";

/** Inputs of one snapshot. */
export interface SnapshotInput {
  readonly output: string;
  readonly url: string;
  readonly state: DownloadState;
  readonly status: EngineStatus | undefined;
  readonly meter: RateMeter;
  readonly elapsedMs: number;
  readonly error: DlmError | undefined;
}

/** Turns the engine's plain counters into the snapshot every watcher sees (a new object each time). */
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
      state: complete ? "done" : activity === undefined ? "pending" : activity.state,
      bytesPerSecond: 0,
      retries: activity?.retries ?? 0,
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
    elapsedMs: Math.round(input.elapsedMs),
    ...(input.error === undefined ? {} : { error: { code: input.error.code, message: input.error.message } }),
  };
}
