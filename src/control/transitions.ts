import type { DownloadState } from "../progress/snapshot.ts";

/** What a user or program can ask of a download. */
export type Command = "pause" | "resume" | "cancel";

/** Outcome of a command in a state: the next state, or why it is impossible (HTTP 409). */
export type Transition =
  | { readonly ok: true; readonly next: DownloadState }
  | { readonly ok: false; readonly reason: string };

/**
 * The state machine of one download for user commands (pure; table-tested). Engine-driven moves
 * (probing → running → verifying → finished | failed) happen in the Controller; this decides what commands
 * may do: pause a probing or running download, resume a paused one, cancel anything not yet ended nor
 * verifying (once every byte is here the engine checks and places the file without listening: a pause or
 * cancel then would be answered and ignored).
 * Pausing while paused and resuming while running are accepted as no-ops, so scripts can be idempotent.
 */
export function applyCommand(state: DownloadState, command: Command): Transition {
  const ended = state === "finished" || state === "failed" || state === "cancelled";
  if (ended)
    return {
      ok: false,
      reason: `the download has already ${state === "finished" ? "finished" : state === "failed" ? "failed" : "been cancelled"}`,
    };
  if (state === "verifying" && command !== "resume")
    return {
      ok: false,
      reason: `every byte is here and the file is being verified; it cannot be ${command === "pause" ? "paused" : "cancelled"} now`,
    };
  switch (command) {
    case "pause":
      return { ok: true, next: "paused" };
    case "resume":
      if (state === "paused") return { ok: true, next: "running" };
      return { ok: true, next: state };
    case "cancel":
      return { ok: true, next: "cancelled" };
  }
}
