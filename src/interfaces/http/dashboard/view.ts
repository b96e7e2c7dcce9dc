/**
 * Draws Progress messages into the download page (page.html's elements, by id): the header, the figures and
 * the buttons here; the segment map, connections and chart through {@link SegmentsView}, which the
 * manager's page shares.
 */
import { type Progress, State } from "../../../gen/dlm/v1/progress_pb.ts";
import { formatBytes, formatDuration, formatRate } from "../../shared/format.ts";
import { DOWNLOAD_STATES } from "../../shared/proto-states.ts";
import { sourcesOfProgress, sourceText } from "./manager/source-rates.ts";
import { $, SegmentsView } from "./segments-view.ts";

export { $ } from "./segments-view.ts";

/** The name shown for a state: dlm's own, as the stream's other clients map it ("unknown" if unset). */
export function stateLabel(state: State): string {
  return state === State.UNSPECIFIED ? "unknown" : DOWNLOAD_STATES[state];
}

/** States after which nothing changes. */
export const ENDED: ReadonlySet<State> = new Set([State.FINISHED, State.FAILED, State.CANCELLED]);

/** Renders successive messages into the download page. */
export class DashboardView {
  readonly #detail = new SegmentsView();

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
    this.#detail.render(p, p.state === State.RUNNING);
    this.#renderSources(p);
  }

  /** The sources with their rates and states; shown once there is more than the URL given. */
  #renderSources(p: Progress): void {
    const sources = sourcesOfProgress(p, [], p.state === State.RUNNING);
    $("sources-section").hidden = sources.length < 2;
    const items = sources.map((s) => {
      const li = document.createElement("li");
      li.className = s.state === "active" || s.state === "idle" ? "" : "trouble";
      li.title = s.url ?? "";
      li.dataset["state"] = s.state;
      li.textContent = sourceText(s);
      return li;
    });
    $("sources").replaceChildren(...items);
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
}

function button(id: string): HTMLButtonElement {
  return $(id) as HTMLButtonElement;
}
