/**
 * The segment map as one line of text: the download's byte range drawn over `width` character cells, each
 * cell showing how much of its bytes are on disk and (on a colour terminal) which connection fetched them.
 * Pure functions of their inputs; `dlm watch` draws them, the browser dashboard shares {@link SegmentOwners}.
 */
import type { SegmentProgress } from "../../progress/snapshot.ts";

/** What the map needs of a segment: inclusive byte offsets, bytes done from `start`, owner and state. */
export type MapSegment = Pick<SegmentProgress, "start" | "end" | "done" | "worker" | "state">;

/** How to draw the map. */
export interface SegmentMapOptions {
  /** Cells to draw (at most; a file smaller than this many bytes gets one cell per byte). */
  readonly width: number;
  /** Bytes covered by the map (the download's size, or its slice's). */
  readonly totalBytes: number;
  /** Offset of the first byte (a `--range-start` slice starts there); default: the lowest segment start. */
  readonly first?: number;
  /** Wrap cells in ANSI colours by connection (trouble in red, pending dim). */
  readonly color: boolean;
}

/** Cell glyphs from empty to full: pending, then under a third, two thirds, not quite all, all done. */
export const MAP_GLYPHS = ["·", "░", "▒", "▓", "█"] as const;

/** ANSI foreground colours of connections 0, 1, 2... (cycled). Red is kept for stalled and retrying. */
export const CONNECTION_COLORS = [34, 32, 33, 35, 36, 94, 92, 95] as const;
const TROUBLE = 31;
const DIM = 90;

/** The glyph for a cell whose bytes are `fraction` (0..1) done. */
export function glyphFor(fraction: number): string {
  if (fraction >= 1 - 1e-9) return MAP_GLYPHS[4];
  if (fraction >= 2 / 3) return MAP_GLYPHS[3];
  if (fraction >= 1 / 3) return MAP_GLYPHS[2];
  if (fraction > 0) return MAP_GLYPHS[1];
  return MAP_GLYPHS[0];
}

/**
 * Draws the map: `min(width, totalBytes)` cells (at least 1), each covering `totalBytes / cells` bytes. A
 * cell's glyph says what share of its bytes is done; its colour is the connection of the segment holding
 * most of those bytes (red when that segment is stalled or retrying, dim while nothing is done). An empty
 * download is one full cell.
 */
export function segmentMap(segments: readonly MapSegment[], options: SegmentMapOptions): string {
  const total = Math.max(0, options.totalBytes);
  const cells = Math.max(1, Math.min(Math.floor(options.width), total));
  if (total === 0) return paint(MAP_GLYPHS[4], undefined, options.color);
  const first = options.first ?? segments.reduce((low, s) => Math.min(low, s.start), segments[0]?.start ?? 0);
  const perCell = total / cells;
  const done = new Float64Array(cells);
  // Per cell, the segment contributing the most done bytes so far (its index) and how many.
  const owner = new Int32Array(cells).fill(-1);
  const ownerBytes = new Float64Array(cells);
  segments.forEach((s, index) => {
    const from = s.start - first;
    const to = Math.min(from + Math.max(0, s.done), s.end - first + 1, total);
    if (to <= from) return;
    const last = Math.min(cells - 1, Math.floor((to - 1e-9) / perCell));
    for (let cell = Math.max(0, Math.floor(from / perCell)); cell <= last; cell++) {
      const overlap = Math.min(to, (cell + 1) * perCell) - Math.max(from, cell * perCell);
      if (overlap <= 0) continue;
      done[cell] = (done[cell] ?? 0) + overlap;
      if (overlap > (ownerBytes[cell] ?? 0)) {
        ownerBytes[cell] = overlap;
        owner[cell] = index;
      }
    }
  });
  let out = "";
  let run = "";
  let runColor: number | undefined;
  for (let cell = 0; cell < cells; cell++) {
    const glyph = glyphFor((done[cell] ?? 0) / perCell);
    const color = cellColor(segments[owner[cell] ?? -1]);
    if (color !== runColor && run !== "") {
      out += paint(run, runColor, options.color);
      run = "";
    }
    runColor = color;
    run += glyph;
  }
  return out + paint(run, runColor, options.color);
}

function cellColor(segment: MapSegment | undefined): number {
  if (segment === undefined) return DIM;
  if (segment.state === "stalled" || segment.state === "retrying") return TROUBLE;
  return segment.worker === undefined ? 0 : connectionColor(segment.worker);
}

/** ANSI colour of connection `worker`. */
export function connectionColor(worker: number): number {
  return CONNECTION_COLORS[worker % CONNECTION_COLORS.length] ?? 0;
}

function paint(text: string, color: number | undefined, enabled: boolean): string {
  return !enabled || color === undefined || color === 0 ? text : `\x1b[${color}m${text}\x1b[39m`;
}

/**
 * Remembers which connection fetched each segment. Snapshots name a segment's worker only while it is
 * fetching; a map coloured by connection needs the owner after that too. Feed every snapshot's segments in
 * order; `withOwners` returns them with `worker` filled in from memory where the snapshot has none.
 */
export class SegmentOwners {
  readonly #owners = new Map<number, number>();

  /** `segments` with each absent `worker` replaced by the last one seen for that segment id. */
  withOwners<S extends { readonly id: number; readonly worker: number | undefined }>(
    segments: readonly S[],
  ): S[] {
    return segments.map((s) => {
      if (s.worker !== undefined) {
        this.#owners.set(s.id, s.worker);
        return s;
      }
      const remembered = this.#owners.get(s.id);
      return remembered === undefined ? s : { ...s, worker: remembered };
    });
  }
}
