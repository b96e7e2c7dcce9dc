/**
 * The two server streams that feed the page's state, and nothing else does: `WatchAll` for the queue
 * (resumed with `since_seq` after a drop or a reload, so nothing is missed and nothing is polled) and
 * `WatchDownload` for the open detail (a second stream, open only while the panel is: WatchAll's request is
 * fixed for the life of the stream, and a page with no detail open should cost the daemon nothing for it).
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { DownloadService } from "../../../../gen/dlm/v1/download_pb.ts";
import { TOKEN_KEY } from "../token.ts";
import type { PageState } from "./page-state.ts";

/** The daemon's client, as every part of the page uses it. */
export type DownloadClient = Client<typeof DownloadService>;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function refused(state: PageState, message: string, label: string): void {
  state.setNotice(message);
  state.setLink(label, "failed");
}

/**
 * Follows WatchAll from the last stored event `state` saw, reconnecting with backoff (0.5 s doubling to
 * 8 s, jittered) for as long as the page lives; returns only when the daemon refuses the page.
 */
export async function followQueue(client: DownloadClient, state: PageState, token: string): Promise<void> {
  if (token === "") {
    return refused(
      state,
      "This page needs the link dlm serve printed when it started (dlm: dashboard http://…/#token=…): the token after #token= lets it talk to dlm.",
      "no token",
    );
  }
  let delay = 500;
  for (;;) {
    try {
      for await (const message of client.watchAll({ sinceSeq: state.queue.seq })) {
        if (delay > 0) {
          state.setNotice(undefined);
          state.setLink("live", "running");
          delay = 0;
        }
        state.applyWatch(message, performance.now() / 1000);
      }
      throw new ConnectError("the stream ended", Code.Unavailable);
    } catch (error) {
      const err = ConnectError.from(error);
      if (err.code === Code.Unauthenticated) {
        sessionStorage.removeItem(TOKEN_KEY);
        return refused(
          state,
          "Wrong or expired access token: this link belongs to another dlm serve. Open the dashboard URL the running dlm serve printed (dlm: dashboard …).",
          "not authorised",
        );
      }
      if (err.code === Code.PermissionDenied) {
        return refused(state, `dlm refused this page: ${err.rawMessage}`, "refused");
      }
      if (err.code === Code.OutOfRange) {
        // The events since this page's last one are gone (or this is another queue): start from a snapshot.
        state.clearQueue();
        delay = 500;
        continue;
      }
      delay = Math.min(Math.max(delay * 2, 500), 8_000);
      state.setLink("reconnecting", "paused");
      state.setNotice(
        `Lost contact with dlm (${err.rawMessage}). Reconnecting in ${(delay / 1000).toFixed(1)} s…`,
        "info",
      );
    }
    await pause(delay * (0.8 + Math.random() * 0.4));
  }
}

/**
 * Follows WatchDownload of `id` into `state` until `signal` aborts (the panel closed) or the download is
 * removed, reconnecting after a drop (0.5 s doubling to 8 s).
 */
export async function followDetail(
  client: DownloadClient,
  state: PageState,
  id: bigint,
  signal: AbortSignal,
): Promise<void> {
  let delay = 500;
  while (!signal.aborted) {
    try {
      for await (const message of client.watchDownload({ id }, { signal })) {
        delay = 500;
        if (message.progress !== undefined) state.applyDetail(id, message.progress);
      }
      return; // removed: the list closes the panel
    } catch (error) {
      if (signal.aborted || ConnectError.from(error).code === Code.NotFound) return;
    }
    await pause(delay);
    delay = Math.min(delay * 2, 8_000);
  }
}
