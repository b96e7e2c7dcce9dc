/**
 * The per-download view's list of sources (the URL given, then its mirrors): each one's rate, connections
 * and state, read off the connections of a Progress message (connection-rates.ts) and the sources it reports
 * (their state and bytes, as the engine's scheduler sees them). A segment names its source (`source`, id 0 =
 * the URL given); one that names none (an older dlm) counts for source 0. Pure (no DOM), unit-tested under
 * Bun; the download page and the manager's detail panel both list sources with it.
 */
import { type Progress, SourceState } from "../../../../gen/dlm/v1/progress_pb.ts";
import { formatBytes, formatRate } from "../../../shared/format.ts";
import { SEGMENT_STATES } from "../../../shared/proto-states.ts";
import { type ConnectionInfo, connectionsOf } from "../connection-rates.ts";

/** A connection with the source its segment is fetched from (undefined: not said, source 0). */
export interface SourcedConnection extends ConnectionInfo {
  readonly source: number | undefined;
}

/** A source as the Progress message reports it. */
export interface ReportedSource {
  readonly id: number;
  readonly url: string;
  readonly state: "active" | "demoted" | "dropped";
  /** Bytes stored from it this run. */
  readonly bytes: number;
}

/** One source as the detail lists it. */
export interface SourceInfo {
  /** 0 = the URL given; the others in the order they were learned. */
  readonly id: number;
  /** Its URL when known. */
  readonly url: string | undefined;
  /** The sum of its connections' rates, bytes per second. */
  readonly bytesPerSecond: number;
  readonly connections: number;
  /**
   * "demoted"/"dropped": the engine's verdict on the source; "trouble": one of its connections stalls,
   * retries or is slow; "idle": no connection on it now.
   */
  readonly state: "active" | "idle" | "trouble" | "demoted" | "dropped";
  /** Bytes stored from it this run, when the message reports its sources. */
  readonly bytes?: number;
}

/**
 * Every source: those of `urls` (by index), those `reported` (whose URL and state win) and any other a
 * connection names, in id order.
 */
export function sourcesOf(
  connections: readonly SourcedConnection[],
  urls: readonly string[],
  reported: readonly ReportedSource[] = [],
): SourceInfo[] {
  const ids = new Set<number>(urls.map((_, i) => i));
  for (const r of reported) ids.add(r.id);
  for (const c of connections) ids.add(c.source ?? 0);
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => {
      const mine = connections.filter((c) => (c.source ?? 0) === id);
      const report = reported.find((r) => r.id === id);
      const trouble = mine.some((c) => c.state !== "active" || c.slow);
      const judged = report?.state === "active" ? undefined : report?.state;
      return {
        id,
        url: report?.url ?? urls[id],
        bytesPerSecond: mine.reduce((sum, c) => sum + c.bytesPerSecond, 0),
        connections: mine.length,
        state: judged ?? (trouble ? "trouble" : mine.length > 0 ? "active" : "idle"),
        ...(report === undefined ? {} : { bytes: report.bytes }),
      };
    });
}

const REPORTED_STATES: Readonly<Record<SourceState, ReportedSource["state"]>> = {
  [SourceState.UNSPECIFIED]: "active",
  [SourceState.ACTIVE]: "active",
  [SourceState.DEMOTED]: "demoted",
  [SourceState.DROPPED]: "dropped",
};

/**
 * The sources of one Progress message: its reported sources, with each connection counted for the source
 * its segment names. `urls` name sources the message does not report (the manager's row knows its URL).
 * `running` false: no connection is counted (a paused or ended download has none).
 */
export function sourcesOfProgress(
  progress: Progress | undefined,
  urls: readonly string[],
  running = true,
): SourceInfo[] {
  if (progress === undefined) return sourcesOf([], urls);
  const bySegment = new Map(progress.segments.map((s) => [s.id, s.source]));
  const connections = running
    ? connectionsOf(
        progress.segments.map((s) => ({
          id: s.id,
          worker: s.worker,
          state: SEGMENT_STATES[s.state],
          retries: s.retries,
          bytesPerSecond: s.bytesPerSecond,
          slow: s.slow,
        })),
      ).map((c) => ({ ...c, source: bySegment.get(c.segment) }))
    : [];
  const reported = progress.sources.map((s) => ({
    id: s.id,
    url: s.url,
    state: REPORTED_STATES[s.state],
    bytes: Number(s.bytes),
  }));
  return sourcesOf(connections, urls, reported);
}

/**
 * The words of one source's line: `#1 mirror.example 2.0 MiB/s, 3 connections, 12.0 MiB (demoted)`; its
 * host (the whole URL is the line's title).
 */
export function sourceText(s: SourceInfo): string {
  const where = s.url === undefined ? `source ${s.id}` : (URL.parse(s.url)?.host ?? s.url);
  const figures =
    s.connections === 0
      ? "idle"
      : `${formatRate(s.bytesPerSecond)}, ${s.connections} connection${s.connections === 1 ? "" : "s"}`;
  const bytes = s.bytes === undefined ? "" : `, ${formatBytes(s.bytes)}`;
  const state = s.state === "active" || s.state === "idle" ? "" : ` (${s.state})`;
  return `#${s.id} ${where} ${figures}${bytes}${state}`;
}
