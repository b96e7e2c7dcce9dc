import { describe, expect, test } from "bun:test";
import { handleSignals, SAME_PRESS_MS } from "../../src/control/signals.ts";

/** Delivers `signals` at the given times (ms) and records what the handler did with each. */
function deliver(times: readonly number[]): string[] {
  const happened: string[] = [];
  let now = 0;
  let handler: ((signal: "SIGINT" | "SIGTERM") => void) | undefined;
  const detach = handleSignals(
    { interrupt: (source) => happened.push(`pause(${source})`) },
    (h) => {
      handler = h;
      return () => {
        handler = undefined;
      };
    },
    () => happened.push("exit"),
    () => now,
  );
  for (const at of times) {
    now = at;
    handler?.("SIGINT");
  }
  detach();
  return happened;
}

describe("handleSignals: one press is one pause, a later press exits at once", () => {
  test.each([
    ["one press", [0], ["pause(SIGINT)"]],
    // A package runner (bun run, npx) in the terminal's process group passes the same press on.
    ["one press delivered twice by a package runner", [0, 2], ["pause(SIGINT)"]],
    ["one press delivered three times", [0, 1, 3], ["pause(SIGINT)"]],
    ["a second press just inside the window", [0, SAME_PRESS_MS - 1], ["pause(SIGINT)"]],
    ["a second press a second later", [0, SAME_PRESS_MS], ["pause(SIGINT)", "exit"]],
    ["a duplicate, then a real second press", [0, 5, 2500], ["pause(SIGINT)", "exit"]],
  ] as const)("%s", (_name, times, expected) => {
    expect(deliver(times)).toEqual([...expected]);
  });
});
