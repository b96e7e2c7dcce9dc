import type { TextSink } from "../../context.ts";
import type { ProgressHub } from "../../progress/hub.ts";
import type { ProgressSnapshot } from "../../progress/snapshot.ts";
import { formatBytes, formatDuration, formatRate } from "../shared/format.ts";

/** How progress is shown: a redrawn line on a TTY, periodic plain lines, JSON lines, or nothing. */
export type ProgressStyle = "tty" | "plain" | "json" | "none";

/** Minimum gap between two lines of each style (ms); the hub ticks every 250 ms. */
const INTERVAL_MS: Record<ProgressStyle, number> = {
  tty: 200,
  plain: 2_000,
  json: 500,
  none: Number.POSITIVE_INFINITY,
};

/**
 * Renders hub snapshots for a person or a program. Runs synchronously inside `publish` (cheap string work
 * on a timer tick, never on the data path), so it can never make a worker wait.
 */
export function attachProgressView(
  hub: ProgressHub,
  style: ProgressStyle,
  out: { readonly stderr: TextSink; readonly stdout: TextSink },
  now: () => number,
): () => void {
  if (style === "none") return () => undefined;
  // Plain and JSON lines start one interval in: a line at 0% says nothing.
  let last = style === "tty" ? Number.NEGATIVE_INFINITY : now();
  let drawn = false;
  const detach = hub.onPublish((snapshot) => {
    if (snapshot.state !== "running") return;
    const t = now();
    if (t - last < INTERVAL_MS[style]) return;
    last = t;
    if (style === "json") {
      out.stdout.write(`${JSON.stringify(progressJson(snapshot))}\n`);
    } else if (style === "tty") {
      const line = progressLine(snapshot);
      const width = Math.max(20, (out.stderr.columns ?? 100) - 1);
      out.stderr.write(`\r\x1b[2K${line.slice(0, width)}`);
      drawn = true;
    } else {
      out.stderr.write(`${progressLine(snapshot)}\n`);
    }
  });
  return () => {
    detach();
    // Leave the terminal on a fresh line for whatever is printed next.
    if (drawn) out.stderr.write("\r\x1b[2K");
  };
}

/** One line: percent, bytes, rate, ETA, connections. */
export function progressLine(s: ProgressSnapshot): string {
  const percent = s.percent === undefined ? "  ?  " : `${s.percent.toFixed(1).padStart(5)}%`;
  const size =
    s.totalBytes === undefined
      ? formatBytes(s.bytesDownloaded)
      : `${formatBytes(s.bytesDownloaded)} / ${formatBytes(s.totalBytes)}`;
  return `${percent}  ${size}  ${formatRate(s.bytesPerSecond)}  ETA ${formatDuration(s.etaSeconds)}  ${s.activeConnections} conn`;
}

/** The `--json` progress record (no per-segment detail: that is what `dlm status` is for). */
export function progressJson(s: ProgressSnapshot): Record<string, unknown> {
  return {
    type: "progress",
    state: s.state,
    bytes: s.bytesDownloaded,
    total: s.totalBytes ?? null,
    percent: s.percent === undefined ? null : Number(s.percent.toFixed(2)),
    bytesPerSecond: Math.round(s.bytesPerSecond),
    etaSeconds: s.etaSeconds === undefined ? null : Math.round(s.etaSeconds),
    connections: s.activeConnections,
    elapsedMs: Math.round(s.elapsedMs),
  };
}
