import type { TextSink } from "../../context.ts";
import type { ProgressHub } from "../../progress/hub.ts";
import type { ProgressSnapshot, SourceProgress } from "../../progress/snapshot.ts";
import { formatBytes, formatRate } from "../shared/format.ts";
import { SegmentOwners, segmentMap } from "../shared/segment-map.ts";
import { progressLine } from "./progress-view.ts";

/** How `dlm watch` draws: a block redrawn in place on a TTY, or a plain line now and then. */
export type WatchStyle = "tty" | "plain";

/** Minimum gap between two drawings, ms (the stream ticks every 250 ms; state changes draw at once). */
const INTERVAL_MS: Record<WatchStyle, number> = { tty: 200, plain: 2_000 };
/** Map width of plain lines, cells: short enough for a log line. */
const PLAIN_MAP_WIDTH = 40;

/**
 * The text picture of one snapshot: a status line (state, percent, bytes, rate, ETA, connections), a line
 * per source when there are mirrors (see {@link sourceLine}) and, when the size is known, the segment map
 * framed as `▕…▏`, `width` columns in all. Pure; `color` adds ANSI colours by connection to the map.
 */
export function watchLines(snapshot: ProgressSnapshot, width: number, color: boolean): string[] {
  const status = `${snapshot.state.padEnd(9)} ${progressLine(snapshot)}`;
  // One source says nothing the status line does not: the lines are for mirrors.
  const sources = (snapshot.sources ?? []).length > 1 ? (snapshot.sources ?? []).map(sourceLine) : [];
  if (snapshot.totalBytes === undefined) return [status, ...sources];
  const map = segmentMap(snapshot.segments, {
    width: Math.max(1, width - 2),
    totalBytes: snapshot.totalBytes,
    color,
  });
  return [status, ...sources, `▕${map}▏`];
}

/**
 * One source as `dlm watch` shows it: `#id  rate  connections  bytes  state  url` (figures first, so that a
 * long URL cut at the terminal's edge loses nothing else).
 */
export function sourceLine(source: SourceProgress): string {
  const rate = formatRate(source.bytesPerSecond).padStart(11);
  const conn = `${source.connections} conn`.padStart(7);
  return `  #${source.id} ${rate} ${conn}  ${formatBytes(source.bytes).padStart(9)}  ${source.state.padEnd(7)}  ${source.url}`;
}

/**
 * Draws each hub snapshot for `dlm watch` on `out.stderr`. TTY: status line and segment map redrawn in place
 * (cursor up, clear line), coloured unless `color` is false, and left on screen at the end. Plain: one line
 * per interval while running, status and a short uncoloured map. Returns the detach function.
 */
export function attachWatchView(
  hub: ProgressHub,
  style: WatchStyle,
  out: { readonly stderr: TextSink },
  now: () => number,
  color: boolean,
): () => void {
  const owners = new SegmentOwners();
  let last = Number.NEGATIVE_INFINITY;
  let lastState: string | undefined;
  let drawn = 0;
  const detach = hub.onPublish((raw) => {
    // Owners are learnt from every snapshot, drawn or not: a segment may start and finish between drawings.
    const snapshot = { ...raw, segments: owners.withOwners(raw.segments) };
    const t = now();
    const changed = snapshot.state !== lastState;
    lastState = snapshot.state;
    if (style === "plain") {
      if (snapshot.state !== "running" || t - last < INTERVAL_MS.plain) return;
      last = t;
      out.stderr.write(`${watchLines(snapshot, PLAIN_MAP_WIDTH + 2, false).join("  ")}\n`);
      return;
    }
    if (!changed && t - last < INTERVAL_MS.tty) return;
    last = t;
    const width = Math.max(20, (out.stderr.columns ?? 80) - 1);
    // Text lines are cut at the edge (a wrapped line would break the redraw); the map is drawn to fit.
    const lines = watchLines(snapshot, width, color).map((line) =>
      line.startsWith("▕") ? line : line.slice(0, width),
    );
    const up = drawn > 1 ? `\x1b[${drawn - 1}A` : "";
    // Clear to the end of the screen: a block that shrank (size became unknown) leaves nothing behind.
    out.stderr.write(`${up}\r\x1b[J${lines.join("\n")}`);
    drawn = lines.length;
  });
  return () => {
    detach();
    // Keep the last picture and give whatever is printed next a fresh line.
    if (drawn > 0) out.stderr.write("\n");
  };
}
