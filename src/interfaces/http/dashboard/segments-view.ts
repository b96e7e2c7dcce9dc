/**
 * The detail of one download that both dashboards show: the segment map, the list of connections with their
 * rates, and the rate chart (page.html's elements by id: map, map-unknown, seg-count, connections,
 * chart-line, chart-area, chart-max). Byte counts arrive as bigint (proto uint64) and are converted once,
 * here; segment elements are reused between messages so a 4 Hz stream stays cheap for the browser.
 */
import type { Progress } from "../../../gen/dlm/v1/progress_pb.ts";
import { formatBytes, formatRate } from "../../shared/format.ts";
import { SegmentOwners } from "../../shared/segment-map.ts";
import { ChartView } from "./chart-view.ts";
import { type ConnectionInfo, connectionsOf, connectionTrouble } from "./connection-rates.ts";
import { type PlainSegment, plainSegmentsOf } from "./plain-segments.ts";

/** Connection colours in page.css (`.c0` ... `.c7`). */
const PALETTE = 8;

/** The element with `id` (the pages have them all). */
export const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

/** One segment's element pair in the map, and what it was last drawn with (unchanged ones are skipped). */
interface Block {
  readonly seg: HTMLElement;
  readonly fill: HTMLElement;
  drawn: string;
}

/** Draws one download's segments, connections and rate; holds what it learns across messages. */
export class SegmentsView {
  readonly #owners = new SegmentOwners();
  readonly #chart = new ChartView({ line: $("chart-line"), area: $("chart-area"), caption: $("chart-max") });
  readonly #blocks = new Map<number, Block>();

  /** Draws `p`'s segments, connections and (while it runs, or once it has) its rate. */
  render(p: Progress, running: boolean): void {
    const total = p.totalBytes === undefined ? undefined : Number(p.totalBytes);
    const segments = this.#owners.withOwners(plainSegmentsOf(p.segments));
    this.#renderMap(segments, total);
    // The live owners, not the remembered ones the map colours finished segments with.
    // With mirrors, each connection names its source (that of its segment).
    const sourceOf =
      p.sources.length > 1 ? new Map(p.segments.map((s) => [s.id, s.source])) : new Map<number, number>();
    this.#renderConnections(
      connectionsOf(segments.map((s, i) => ({ ...s, worker: p.segments[i]?.worker }))),
      sourceOf,
    );
    if (running || !this.#chart.empty) this.#chart.add(Number(p.elapsedMs) / 1000, p.bytesPerSecond);
  }

  #renderMap(segments: readonly PlainSegment[], total: number | undefined): void {
    const map = $("map");
    map.hidden = total === undefined;
    $("map-unknown").hidden = total !== undefined;
    if (total === undefined) return;
    const first = segments.reduce((low, s) => Math.min(low, s.start), segments[0]?.start ?? 0);
    const size = Math.max(1, total);
    const seen = new Set<number>();
    let complete = 0;
    for (const s of segments) {
      seen.add(s.id);
      const length = s.end - s.start + 1;
      if (s.done >= length) complete++;
      let block = this.#blocks.get(s.id);
      if (block === undefined) {
        block = { seg: document.createElement("div"), fill: document.createElement("i"), drawn: "" };
        block.seg.append(block.fill);
        map.append(block.seg);
        this.#blocks.set(s.id, block);
      }
      // A big download has hundreds of segments but only a few change per message: touch only those, so
      // the browser restyles a handful of elements, not the whole map, four times a second.
      const key = `${s.start - first} ${length} ${s.done} ${s.worker} ${s.state} ${size}`;
      if (block.drawn === key) continue;
      block.drawn = key;
      const trouble = s.state === "stalled" || s.state === "retrying" ? ` ${s.state}` : "";
      block.seg.className = `seg${trouble}`;
      block.seg.style.left = `${((s.start - first) / size) * 100}%`;
      block.seg.style.width = `${(length / size) * 100}%`;
      block.seg.title =
        `segment ${s.id}: ${formatBytes(s.done)} of ${formatBytes(length)}` +
        (s.worker === undefined ? "" : `, connection ${s.worker}`) +
        (trouble === "" ? "" : ` (${s.state})`);
      block.fill.className = s.worker === undefined ? "cx" : `c${s.worker % PALETTE}`;
      block.fill.style.width = `${Math.min(100, (s.done / length) * 100)}%`;
    }
    for (const [id, block] of this.#blocks) {
      if (seen.has(id)) continue;
      block.seg.remove();
      this.#blocks.delete(id);
    }
    map.setAttribute("aria-label", `${segments.length} segments, ${complete} complete`);
    $("seg-count").textContent = `${segments.length} segments, ${complete} complete`;
  }

  #renderConnections(
    connections: readonly ConnectionInfo[],
    sourceOf: ReadonlyMap<number, number | undefined>,
  ): void {
    const items = connections.map((c) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch c${c.worker % PALETTE}`;
      const marks = connectionTrouble(c);
      li.className = c.state !== "active" || c.slow ? "trouble" : "";
      const source = sourceOf.get(c.segment);
      li.append(
        swatch,
        `#${c.worker} ${c.measured ? formatRate(c.bytesPerSecond) : "measuring…"}${source === undefined ? "" : ` from source #${source}`}${marks === "" ? "" : ` (${marks})`}`,
      );
      return li;
    });
    $("connections").replaceChildren(...items);
  }
}
