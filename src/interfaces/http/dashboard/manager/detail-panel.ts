/**
 * The drill-down of the manager's page: one download's segment map, connections and rate chart (the
 * download page's {@link SegmentsView}), fed by `DownloadService.WatchDownload`, a second server stream that
 * is open only while the panel is. The header figures come from the list's own WatchAll data, so the panel
 * and its row never disagree.
 *
 * Why a second stream rather than detail inside WatchAll: WatchAll's request is fixed for the life of the
 * stream (choosing another download would mean reconnecting the list), every watcher of the list would
 * decode segments it does not show, and a page with no detail open should cost the daemon nothing for it.
 * WatchDownload sends the `Progress` message of `ProgressService.Watch`, so the drawing code is shared as is.
 */
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Download, type DownloadService, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { type Progress, State } from "../../../../gen/dlm/v1/progress_pb.ts";
import { $, SegmentsView } from "../segments-view.ts";
import { rateInput, rowText } from "./row-text.ts";

/** Follows one download at a time. */
export class DetailPanel {
  readonly #client: Client<typeof DownloadService>;
  #id: bigint | undefined;
  #abort: AbortController | undefined;
  #segments: SegmentsView | undefined;
  #lastElapsed = 0;

  constructor(client: Client<typeof DownloadService>) {
    this.#client = client;
  }

  /** The download shown, if any. */
  get id(): bigint | undefined {
    return this.#id;
  }

  /** Shows `d` and starts following its detail stream. */
  open(d: Download): void {
    this.close();
    this.#id = d.id;
    this.#abort = new AbortController();
    this.#reset();
    $("detail").hidden = false;
    this.update(d);
    $("detail-close").focus();
    $("detail").scrollIntoView({ block: "nearest" });
    void this.#follow(d.id, this.#abort.signal);
  }

  /** Redraws the header from the list's message; closes the panel when the download is gone. */
  update(d: Download | undefined): void {
    if (this.#id === undefined) return;
    if (d === undefined) {
      this.close();
      return;
    }
    const t = rowText(d, Date.now());
    $("detail-name").textContent = t.name;
    $("detail-url").textContent = d.url;
    const pill = $("detail-state");
    pill.textContent = t.state;
    pill.dataset["state"] = t.state;
    const problem = $("detail-problem");
    problem.textContent = [t.problem, t.retry].filter((s) => s !== "").join(" — ");
    problem.hidden = problem.textContent === "";
    $("detail-done").textContent = t.size;
    $("detail-rate").textContent = t.rate;
    $("detail-eta").textContent = t.eta;
    $("detail-conns").textContent = t.connections;
    const limit = $("detail-limit") as HTMLInputElement;
    // Not while someone types in it.
    if (document.activeElement !== limit) limit.value = rateInput(d.speedLimit);
    $("detail").dataset["running"] = String(d.state === DownloadState.RUNNING);
  }

  /** Hides the panel and ends its stream. */
  close(): void {
    this.#abort?.abort();
    this.#abort = undefined;
    this.#id = undefined;
    $("detail").hidden = true;
  }

  #reset(): void {
    this.#segments = undefined;
    this.#lastElapsed = 0;
    $("map").replaceChildren();
    $("connections").replaceChildren();
    $("seg-count").textContent = "";
    for (const id of ["chart-line", "chart-area"]) $(id).setAttribute("points", "");
    $("chart-max").textContent = "";
  }

  #render(p: Progress): void {
    // A new run (resumed, retried) starts its clock again: start a fresh map and chart with it.
    const elapsed = Number(p.elapsedMs);
    if (elapsed < this.#lastElapsed) this.#reset();
    this.#lastElapsed = elapsed;
    const idle = p.segments.length === 0;
    $("map").hidden = idle;
    $("map-unknown").hidden = !idle;
    if (idle) {
      $("connections").replaceChildren();
      return;
    }
    this.#segments ??= new SegmentsView();
    this.#segments.render(p, p.state === State.RUNNING);
  }

  /** Reads the stream until the panel closes or the download is removed, reconnecting after a drop. */
  async #follow(id: bigint, signal: AbortSignal): Promise<void> {
    let delay = 500;
    while (!signal.aborted) {
      try {
        for await (const message of this.#client.watchDownload({ id }, { signal })) {
          delay = 500;
          if (message.progress !== undefined) this.#render(message.progress);
        }
        return; // removed: the list closes the panel
      } catch (error) {
        if (signal.aborted || ConnectError.from(error).code === Code.NotFound) return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 8_000);
    }
  }
}
