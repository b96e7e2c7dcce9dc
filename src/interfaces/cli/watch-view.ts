import type { TextSink } from "../../context.ts";
import type { ProgressHub } from "../../progress/hub.ts";
import type { ProgressSnapshot } from "../../progress/snapshot.ts";
import { SegmentOwners, segmentMap } from "../shared/segment-map.ts";
import { progressLine } from "./progress-view.ts";

/** How `dlm watch` draws: a block redrawn in place on a TTY, or a plain line now and then. */
export type WatchStyle = "tty" | "plain";

/** Minimum gap between two drawings, ms (the stream ticks every 250 ms; state changes draw at once). */
const INTERVAL_MS: Record<WatchStyle, number> = { tty: 200, plain: 2_000 };
/** Map width of plain lines, cells: short enough for a log line. */
const PLAIN_MAP_WIDTH = 40;

/**
 * The text picture of one snapshot: a status line (state, percent, bytes, rate, ETA, connections) and, when
 * the size is known, the segment map framed as `▕…▏`, `width` columns in all. Pure; `color` adds ANSI
 * colours by connection to the map.
 */
export function watchLines(snapshot: ProgressSnapshot, width: number, color: boolean): string[] {
  const status = `${snapshot.state.padEnd(9)} ${progressLine(snapshot)}`;
  if (snapshot.totalBytes === undefined) return [status];
  const map = segmentMap(snapshot.segments, {
    width: Math.max(1, width - 2),
    totalBytes: snapshot.totalBytes,
    color,
  });
  return [status, `▕${map}▏`];
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
    const lines = watchLines(snapshot, width, color).map((line, i) =>
      i === 0 ? line.slice(0, width) : line,
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
