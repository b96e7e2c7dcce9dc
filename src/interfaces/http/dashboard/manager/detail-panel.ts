/**
 * The drill-down of the manager's page: one download's segment map, connections and rate chart. The header
 * figures come from the list's own WatchAll row, so the panel and its row never disagree; the segments come
 * from `WatchDownload` (streams.ts), a stream open only while the panel is.
 */
import { type ComponentChild, h } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef } from "preact/hooks";
import { type Download, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import type { Progress } from "../../../../gen/dlm/v1/progress_pb.ts";
import { formatBytes, formatRate } from "../../../shared/format.ts";
import type { SegmentOwners } from "../../../shared/segment-map.ts";
import { type ConnectionInfo, connectionsOf, connectionTrouble } from "../connection-rates.ts";
import { type PlainSegment, plainSegmentsOf } from "../plain-segments.ts";
import type { DetailState, PageState } from "./page-state.ts";
import { RateChart } from "./rate-chart-view.ts";
import { rateInput, rowText } from "./row-text.ts";
import { type SourceInfo, sourcesOfProgress, sourceText } from "./source-rates.ts";
import { type DownloadClient, followDetail } from "./streams.ts";

/** Connection colours in page.css (`.c0` ... `.c7`). */
const PALETTE = 8;

interface DetailProps {
  readonly detail: DetailState;
  /** The download's row (WatchAll). */
  readonly d: Download;
  readonly client: DownloadClient;
  /** The page's state, which the detail stream feeds. */
  readonly state: PageState;
  readonly onClose: () => void;
  /** Sets the download's speed limit from what was typed (the page reports bad input). */
  readonly onLimit: (typed: string) => Promise<void>;
}

/** The panel of the open download. */
export function DetailPanel({ detail, d, client, state, onClose, onLimit }: DetailProps): ComponentChild {
  // Preact's element references start as null (its API, not dlm's).
  const close = useRef<HTMLButtonElement>(null);
  const section = useRef<HTMLElement>(null);
  const limit = useRef<HTMLInputElement>(null);
  const id = detail.id;
  useEffect(() => {
    const abort = new AbortController();
    void followDetail(client, state, id, abort.signal);
    close.current?.focus();
    section.current?.scrollIntoView({ block: "nearest" });
    return () => abort.abort();
  }, [id]);
  // The field shows the daemon's limit, except while someone types in it.
  useLayoutEffect(() => {
    if (limit.current !== null && document.activeElement !== limit.current) {
      limit.current.value = rateInput(d.speedLimit);
    }
  });
  const t = rowText(d, Date.now());
  const problem = [t.problem, t.retry].filter((s) => s !== "").join(" — ");
  return h(
    "section",
    {
      id: "detail",
      ref: section,
      "aria-labelledby": "detail-name",
      "data-running": String(d.state === DownloadState.RUNNING),
    },
    h(
      "header",
      { class: "top" },
      h(
        "div",
        { class: "title" },
        h("h2", { id: "detail-name" }, t.name),
        h("p", { id: "detail-url", class: "muted" }, d.url),
      ),
      h("span", { id: "detail-state", class: "pill", role: "status", "data-state": t.state }, t.state),
      h(
        "button",
        {
          type: "button",
          id: "detail-close",
          "aria-label": "Close the detail",
          ref: close,
          onClick: onClose,
        },
        "Close",
      ),
    ),
    h("p", { id: "detail-problem", class: "problem", hidden: problem === "" }, problem),
    h(
      "dl",
      { class: "stats" },
      stat("Done", "detail-done", t.size),
      stat("Rate", "detail-rate", t.rate),
      stat("ETA", "detail-eta", t.eta),
      stat("Connections", "detail-conns", t.connections),
    ),
    h(
      "form",
      {
        id: "detail-limit-form",
        class: "inline",
        onSubmit: (event: SubmitEvent) => {
          event.preventDefault();
          const field = limit.current;
          if (field === null) return;
          void onLimit(field.value).then(() => field.blur());
        },
      },
      h("label", { for: "detail-limit" }, "Speed limit"),
      h("input", {
        id: "detail-limit",
        name: "limit",
        placeholder: "none",
        size: 7,
        autocomplete: "off",
        ref: limit,
      }),
      h("button", { type: "submit" }, "Set"),
    ),
    h(Segments, { progress: detail.progress, owners: detail.owners, urls: [d.url] }),
    h("h3", {}, "Rate"),
    h(RateChart, {
      samples: detail.samples,
      svgId: "chart",
      prefix: "chart",
      label: "Download rate over time",
    }),
  );
}

function stat(term: string, id: string, value: string): ComponentChild {
  return h("div", {}, h("dt", {}, term), h("dd", { id }, value));
}

/** The segment map, the connections and the sources of the last message. */
function Segments({
  progress,
  owners,
  urls,
}: {
  progress: Progress | undefined;
  owners: SegmentOwners;
  /** The download's sources: its URL (then its mirrors, once the Download message carries them). */
  urls: readonly string[];
}): ComponentChild {
  const segments = useMemo(() => plainSegments(progress, owners), [progress]);
  const total = progress?.totalBytes === undefined ? undefined : Number(progress.totalBytes);
  const idle = segments.length === 0 || total === undefined;
  const first = segments.reduce((low, s) => Math.min(low, s.start), segments[0]?.start ?? 0);
  const size = Math.max(1, total ?? 1);
  const complete = segments.filter((s) => s.done >= s.end - s.start + 1).length;
  const count = idle ? "" : `${segments.length} segments, ${complete} complete`;
  // The live owners, not the remembered ones the map colours finished segments with.
  const connections = connectionsOf(
    segments.map((s, i) => ({ ...s, worker: progress?.segments[i]?.worker })),
  );
  return h(
    "div",
    {},
    h("h3", {}, "Segments ", h("span", { id: "seg-count", class: "muted" }, count)),
    h(
      "div",
      {
        id: "map",
        class: "map",
        role: "img",
        "aria-label": count === "" ? "Segment map" : count,
        hidden: idle,
      },
      idle ? [] : segments.map((s) => block(s, first, size)),
    ),
    h(
      "p",
      { id: "map-unknown", class: "muted", hidden: !idle },
      "No segments: the download is not running, or the server did not say its size.",
    ),
    h(
      "ul",
      { id: "connections", class: "connections", "aria-label": "Connections" },
      idle ? [] : connections.map(connection),
    ),
    h("h3", {}, "Sources"),
    h(
      "ul",
      { id: "sources", class: "connections", "aria-label": "Sources" },
      // Each connection counts for the source its segment names; the message's sources add state and bytes.
      sourcesOfProgress(progress, urls, !idle).map(sourceItem),
    ),
  );
}

/** One source's line (its words: source-rates.ts). */
function sourceItem(s: SourceInfo): ComponentChild {
  return h(
    "li",
    {
      key: s.id,
      class: s.state === "active" || s.state === "idle" ? "" : "trouble",
      title: s.url ?? "",
      "data-state": s.state,
      "data-source": String(s.id),
    },
    sourceText(s),
  );
}

function plainSegments(progress: Progress | undefined, owners: SegmentOwners): PlainSegment[] {
  if (progress === undefined) return [];
  return owners.withOwners(plainSegmentsOf(progress.segments));
}

function block(s: PlainSegment, first: number, size: number): ComponentChild {
  const length = s.end - s.start + 1;
  const trouble = s.state === "stalled" || s.state === "retrying" ? ` ${s.state}` : "";
  return h(
    "div",
    {
      key: s.id,
      class: `seg${trouble}`,
      style: { left: `${((s.start - first) / size) * 100}%`, width: `${(length / size) * 100}%` },
      title:
        `segment ${s.id}: ${formatBytes(s.done)} of ${formatBytes(length)}` +
        (s.worker === undefined ? "" : `, connection ${s.worker}`) +
        (trouble === "" ? "" : ` (${s.state})`),
    },
    h("i", {
      class: s.worker === undefined ? "cx" : `c${s.worker % PALETTE}`,
      style: { width: `${Math.min(100, (s.done / length) * 100)}%` },
    }),
  );
}

function connection(c: ConnectionInfo): ComponentChild {
  const marks = connectionTrouble(c);
  return h(
    "li",
    { key: c.worker, class: c.state !== "active" || c.slow ? "trouble" : "" },
    h("span", { class: `swatch c${c.worker % PALETTE}` }),
    `#${c.worker} ${c.measured ? formatRate(c.bytesPerSecond) : "measuring…"}${marks === "" ? "" : ` (${marks})`}`,
  );
}
