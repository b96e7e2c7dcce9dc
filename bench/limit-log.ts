import { describeFailure } from "../src/engine/retry-policy.ts";

/** What dlm's worker log says about one run's connections. */
export interface DlmRetries {
  /** Attempts retried because the connection delivered nothing for the stall timeout. */
  readonly stalls: number;
  /** Every other re-request: retries after another failure, and slow-connection restarts. */
  readonly others: number;
}

/** The `failure` field dlm's worker logs for a stall retry (the engine's own wording, not a copy of it). */
const STALL = describeFailure({ kind: "stall" });
/** The start of the message the worker logs when it restarts a connection far slower than its peers. */
const SLOW_RESTART = "restarting slow connection";

/**
 * Counts retries in dlm's stderr when it ran with `DLM_LOG=worker=info` and JSON log lines (LogTape's JSON
 * Lines: `logger`, `message`, `properties`). The worker logs one line per retry ("retrying {segment} after
 * {failure}", with the failure in `properties.failure`) and per slow-connection restart, never per chunk.
 * The log, not the pacer's request counts, is the reliable source: a mid-segment request can also be a work
 * steal, which is no retry. Lines that are not JSON (a crash's stack) are skipped.
 */
export function countDlmRetries(stderr: string): DlmRetries {
  let stalls = 0;
  let others = 0;
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record !== "object" || record === null) continue;
    const { logger, message, properties } = record as Record<string, unknown>;
    if (logger !== "dlm.worker") continue;
    const failure =
      typeof properties === "object" && properties !== null
        ? (properties as Record<string, unknown>)["failure"]
        : undefined;
    if (failure === STALL) stalls++;
    else if (typeof failure === "string") others++;
    else if (typeof message === "string" && message.startsWith(SLOW_RESTART)) others++;
  }
  return { stalls, others };
}
