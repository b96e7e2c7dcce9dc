import type { Controller } from "./controller.ts";

/**
 * Wires SIGINT/SIGTERM to the controller: the first one pauses (workers stop, parts are fsynced, state.json
 * is written, the run ends with InterruptedError); a second one exits at once, leaving the last checkpoint,
 * which is always valid on its own.
 */
export function handleSignals(
  controller: Controller,
  onSignal: (handler: (signal: "SIGINT" | "SIGTERM") => void) => () => void,
  exitNow: () => void,
): () => void {
  let count = 0;
  return onSignal((signal) => {
    count++;
    if (count === 1) controller.interrupt(signal);
    else exitNow();
  });
}
