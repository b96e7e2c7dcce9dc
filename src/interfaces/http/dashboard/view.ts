/**
 * Draws Progress messages into the dashboard page (page.html's elements, by id). Byte counts arrive as
 * bigint (proto uint64) and are converted once, here; everything else is plain DOM work, reusing the
 * segment elements between messages so a 4 Hz stream stays cheap for the browser.
 */
import { type Progress, State } from "../../../gen/dlm/v1/progress_pb.ts";
import { formatBytes, formatDuration, formatRate } from "../../shared/format.ts";
import { DOWNLOAD_STATES, SEGMENT_STATES } from "../../shared/proto-states.ts";
import { SegmentOwners } from "../../shared/segment-map.ts";
import { type ConnectionInfo, connectionsOf, type RateSegment } from "./connection-rates.ts";
import { chartShape, type RateSample, trimSamples } from "./rate-chart.ts";

/** The name shown for a state: dlm's own, as the stream's other clients map it ("unknown" if unset). */
export function stateLabel(state: State): string {
  return state === State.UNSPECIFIED ? "unknown" : DOWNLOAD_STATES[state];
}

/** States after which nothing changes. */
export const ENDED: ReadonlySet<State> = new Set([State.FINISHED, State.FAILED, State.CANCELLED]);
/** Connection colours in page.css (`.c0` ... `.c7`). */
const PALETTE = 8;
const CHART = { width: 600, height: 120, windowSeconds: 180 };

/** The element with `id` (page.html has them all). */
export const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

/** One segment's element pair in the map, and what it was last drawn with (unchanged ones are skipped). */
interface Block {
  readonly seg: HTMLElement;
  readonly fill: HTMLElement;
  drawn: string;
}

/** A segment with its byte counts as numbers. */
interface PlainSegment extends RateSegment {
  readonly start: number;
  readonly end: number;
  readonly done: number;
}

/** Renders successive messages; holds what the page learns across them (owners, chart samples). */
export class DashboardView {
  readonly #owners = new SegmentOwners();
  readonly #samples: RateSample[] = [];
  readonly #blocks = new Map<number, Block>();

  /** Draws `p` everywhere on the page. */
  render(p: Progress): void {
    const total = p.totalBytes === undefined ? undefined : Number(p.totalBytes);
    const done = Number(p.bytesDownloaded);
    const elapsed = Number(p.elapsedMs);
    const name = p.output.split("/").pop() || p.output || "dlm";
    const percent = p.percent ?? (total === 0 ? 100 : undefined);
    $("name").textContent = name;
    $("url").textContent = p.url;
    document.title = `${percent === undefined ? "" : `${Math.floor(percent)}% `}${name} · dlm`;
    this.showState(p.state);
    $("percent").textContent = percent === undefined ? "-" : `${percent.toFixed(1)}%`;
    $("done").textContent =
      total === undefined ? formatBytes(done) : `${formatBytes(done)} of ${formatBytes(total)}`;
    $("rate").textContent = formatRate(p.bytesPerSecond);
    $("eta").textContent = p.state === State.RUNNING ? formatDuration(p.etaSeconds) : "-";
    $("elapsed").textContent = formatDuration(elapsed / 1000);
    $("conns").textContent = String(p.activeConnections);
    $("bar-fill").style.width = `${percent ?? 0}%`;
    $("bar").setAttribute("aria-valuenow", (percent ?? 0).toFixed(1));
    const segments: PlainSegment[] = this.#owners.withOwners(
      p.segments.map((s) => ({
        id: s.id,
        start: Number(s.start),
        end: Number(s.end),
        done: Number(s.done),
        worker: s.worker,
        state: SEGMENT_STATES[s.state],
        retries: s.retries,
        bytesPerSecond: s.bytesPerSecond,
        slow: s.slow,
      })),
    );
    this.#renderMap(segments, total);
    // The live owners, not the remembered ones the map colours finished segments with.
    this.#renderConnections(connectionsOf(segments.map((s, i) => ({ ...s, worker: p.segments[i]?.worker }))));
    if (p.state === State.RUNNING || this.#samples.length > 0)
      this.#renderChart(elapsed / 1000, p.bytesPerSecond);
  }

  /** Shows `state` in the header pill and enables the buttons that make sense in it. */
  showState(state: State, label = stateLabel(state)): void {
    const pill = $("state");
    pill.textContent = label;
    pill.dataset["state"] = stateLabel(state);
    button("pause").disabled = state !== State.RUNNING && state !== State.PROBING;
    button("resume").disabled = state !== State.PAUSED;
    // While verifying the download refuses pause and cancel: it ends on its own in a moment.
    button("cancel").disabled = state === State.UNSPECIFIED || state === State.VERIFYING || ENDED.has(state);
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

  #renderConnections(connections: readonly ConnectionInfo[]): void {
    const items = connections.map((c) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch c${c.worker % PALETTE}`;
      const marks = [
        c.state === "active" ? "" : c.state,
        c.slow ? "slow" : "",
        c.retries > 0 ? `${c.retries} retries` : "",
      ]
        .filter((m) => m !== "")
        .join(", ");
      li.className = c.state !== "active" || c.slow ? "trouble" : "";
      li.append(
        swatch,
        `#${c.worker} ${c.measured ? formatRate(c.bytesPerSecond) : "measuring…"}${marks === "" ? "" : ` (${marks})`}`,
      );
      return li;
    });
    $("connections").replaceChildren(...items);
  }

  #renderChart(seconds: number, rate: number): void {
    this.#samples.push({ t: seconds, rate });
    trimSamples(this.#samples, seconds, CHART.windowSeconds);
    const shape = chartShape(this.#samples, CHART);
    $("chart-line").setAttribute("points", shape.line);
    $("chart-area").setAttribute("points", shape.area);
    const over = shape.span < CHART.windowSeconds ? formatDuration(shape.span) : "the last 3 minutes";
    $("chart-max").textContent = `Peak ${formatRate(shape.top * 0.9)} over ${over}`;
  }
}

function button(id: string): HTMLButtonElement {
  return $(id) as HTMLButtonElement;
}
