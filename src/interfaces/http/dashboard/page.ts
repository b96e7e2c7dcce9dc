/**
 * The live dashboard, bundled by Bun (build-dashboard.ts) and served by the HTTP listener. All data arrives
 * over one Connect-Web server stream (ProgressService.Watch, binary protobuf: the server encodes each
 * snapshot once for every binary watcher); the buttons call the control API. The bearer token comes from the
 * URL fragment, which browsers never send in a request line; the page then drops it from the address bar
 * and keeps it in this tab's sessionStorage, so a reload still works.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type Progress, ProgressService, State } from "../../../gen/dlm/v1/progress_pb.ts";
import { bearer, notice, TOKEN_KEY, takeToken } from "./token.ts";
import { $, DashboardView, ENDED } from "./view.ts";

const token = takeToken();
const view = new DashboardView();
/** State names of the REST answers, for the buttons' immediate feedback. */
const REST_STATES: Readonly<Record<string, State>> = {
  running: State.RUNNING,
  paused: State.PAUSED,
  cancelled: State.CANCELLED,
  finished: State.FINISHED,
};

const client = createClient(
  ProgressService,
  createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer(token)] }),
);

function refused(message: string, label: string): void {
  notice(message);
  view.showState(State.UNSPECIFIED, label);
  button("pause").disabled = true;
  button("resume").disabled = true;
}

async function command(name: "pause" | "resume" | "cancel"): Promise<void> {
  // Cancelling deletes the partial data: one click must not do that by accident.
  if (name === "cancel" && !confirm("Cancel the download and delete what was fetched so far?")) return;
  const res = await fetch(`/${name}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  }).catch(() => undefined);
  if (res === undefined) return notice(`Could not reach dlm to ${name} the download: is it still running?`);
  const body = (await res.json().catch(() => ({}))) as { message?: string; state?: string };
  if (!res.ok) return notice(`Cannot ${name}: ${body.message ?? res.statusText}`);
  notice(undefined);
  const state = REST_STATES[body.state ?? ""];
  if (state !== undefined) view.showState(state);
}

/** What the banner says when a stream ended in `last`'s state. */
function ending(last: Progress): void {
  if (last.state === State.FINISHED) notice(`Finished: ${last.output} is complete and verified.`, "ok");
  else if (last.state === State.CANCELLED)
    notice("The download was cancelled; its partial data is removed.", "info");
  else if (last.state === State.FAILED) notice(`Failed: ${last.failure?.message ?? "unknown error"}`);
}

/** Follows the Watch stream until the download ends, reconnecting with backoff while dlm may still live. */
async function watch(): Promise<void> {
  if (token === "") {
    return refused(
      "This page needs the link dlm printed when it started (dlm: dashboard http://…/#token=…): the token after #token= lets it talk to dlm.",
      "no token",
    );
  }
  let delay = 500;
  let last: Progress | undefined;
  for (;;) {
    try {
      for await (const p of client.watch({})) {
        if (last === undefined || delay > 500) notice(undefined);
        last = p;
        delay = 500;
        view.render(p);
      }
      if (last !== undefined && ENDED.has(last.state)) return ending(last);
    } catch (error) {
      const err = ConnectError.from(error);
      if (err.code === Code.Unauthenticated) {
        sessionStorage.removeItem(TOKEN_KEY);
        return refused(
          "Wrong or expired access token: this link belongs to another dlm run. Open the dashboard URL the running dlm printed (dlm: dashboard …).",
          "not authorised",
        );
      }
      if (err.code === Code.PermissionDenied)
        return refused(`dlm refused this page: ${err.rawMessage}`, "refused");
      if (last !== undefined && ENDED.has(last.state)) return ending(last);
      notice(
        `Lost contact with dlm (${err.rawMessage}). Retrying in ${(delay / 1000).toFixed(1)} s…`,
        "info",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (0.8 + Math.random() * 0.4)));
    delay = Math.min(delay * 2, 8_000);
  }
}

function button(id: string): HTMLButtonElement {
  return $(id) as HTMLButtonElement;
}

for (const name of ["pause", "resume", "cancel"] as const) {
  button(name).addEventListener("click", () => void command(name));
}
void watch();
