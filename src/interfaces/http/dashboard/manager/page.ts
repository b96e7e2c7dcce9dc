/**
 * The manager's dashboard (`GET /` of `dlm serve`): every download of the queue on one page, live, as
 * Preact components (app.ts) drawn from one state (page-state.ts) that only the daemon's two streams feed
 * (streams.ts: WatchAll, binary protobuf, resumed with `since_seq` after a drop or a reload, and
 * WatchDownload for the open detail). The list is kept in this tab's sessionStorage on the way out, so a
 * reload resumes from its last event; every button is a DownloadService call. The token handling is the
 * download page's (token.ts). This file only wires them: no state lives here.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { h, render } from "preact";
import { DownloadService, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { bearer, takeToken } from "../token.ts";
import { App } from "./app.ts";
import { PageState } from "./page-state.ts";
import { followQueue } from "./streams.ts";

/**
 * sessionStorage key of the list kept across a reload, saved with the token in front: each `dlm serve` run
 * has its own (a list saved for another run, on the same port, must not be replayed onto this one's events).
 */
const LIST_KEY = "dlm-queue";

function main(root: HTMLElement): void {
  const token = takeToken();
  const client = createClient(
    DownloadService,
    createConnectTransport({
      baseUrl: location.origin,
      useBinaryFormat: true,
      interceptors: [bearer(token)],
    }),
  );
  const state = new PageState();
  // A new element each time: Preact skips a tree whose element is the one it drew last.
  const draw = () => render(h(App, { state, client }), root);
  // At most one redraw a frame, however many messages arrived in it.
  let pending = false;
  state.subscribe(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  const saved = sessionStorage.getItem(LIST_KEY);
  sessionStorage.removeItem(LIST_KEY);
  if (token !== "" && saved?.startsWith(`${token} `) === true)
    state.restoreQueue(saved.slice(token.length + 1));
  draw();
  // The list goes with the tab's session on the way out, so a reload resumes from its last event.
  addEventListener("pagehide", () => {
    if (token !== "") sessionStorage.setItem(LIST_KEY, `${token} ${state.queue.save()}`);
  });
  // A retrying row counts down to its next try: a local clock, no request.
  setInterval(() => {
    if ((state.queue.counts().get(DownloadState.RETRYING) ?? 0) > 0) state.tick();
  }, 1000);
  void followQueue(client, state, token);
}

const root = document.querySelector("main");
if (root !== null) main(root);
