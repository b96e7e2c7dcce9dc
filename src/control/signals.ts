import type { Controller } from "./controller.ts";

/**
 * Signals closer together than this (ms) are one press delivered twice. A terminal's Ctrl+C goes to its whole
 * foreground process group, and a package runner (`bun run dlm`, `npx`) in that group passes it on to dlm as
 * well: dlm gets two SIGINTs within milliseconds of one press. A second press a person makes comes later.
 */
export const SAME_PRESS_MS = 1000;

/**
 * Wires SIGINT/SIGTERM to the controller: the first one pauses (workers stop, data is fsynced, state.json is
 * written, the run ends with InterruptedError); another one at least {@link SAME_PRESS_MS} later exits at
 * once, leaving the last checkpoint, which is always valid on its own. One within that time is the same press
 * (see SAME_PRESS_MS) and is ignored, so the pause it started stays truthful.
 * `now` is a monotonic clock in ms.
 */
export function handleSignals(
  controller: Pick<Controller, "interrupt">,
  onSignal: (handler: (signal: "SIGINT" | "SIGTERM") => void) => () => void,
  exitNow: () => void,
  now: () => number,
): () => void {
  let firstAt: number | undefined;
  return onSignal((signal) => {
    if (firstAt === undefined) {
      firstAt = now();
      controller.interrupt(signal);
    } else if (now() - firstAt >= SAME_PRESS_MS) {
      exitNow();
    }
  });
}
