import type { RunOutcome } from "../control/controller.ts";
import { HttpStatusError, type OutputExistsError } from "../errors.ts";
import type { RecordPatch } from "./download-record.ts";
import { failureInfo, RETRY_BASE_MS, retryDelayMs } from "./failure-info.ts";

/**
 * Why the manager stopped a job (Controller.stop): "pause" keeps it paused; "shutdown" and "requeue" (its
 * URL changed) put it back in the queue; "remove" (the row is deleted next) and "lost" (its lease is
 * another node's now) write nothing; "conflict" fails it (another download writes its output).
 */
export type StopReason =
  | { readonly kind: "pause" }
  | { readonly kind: "shutdown" }
  | { readonly kind: "requeue" }
  | { readonly kind: "remove" }
  | { readonly kind: "lost"; readonly why: string }
  | { readonly kind: "conflict"; readonly error: OutputExistsError };

/** What decides the row after a job ended. */
export interface JobEnd {
  readonly outcome: RunOutcome<StopReason>;
  /** Bytes the job had when it ended (its snapshot). */
  readonly bytes: number;
  /** Runs that ended in a retryable failure before this one (the row's `attempts`). */
  readonly attempts: number;
  /** Retry retryable failures later (ManagerOptions.retryLater). */
  readonly retryLater: boolean;
  /** First retry wait, ms (default RETRY_BASE_MS). */
  readonly retryBaseMs?: number | undefined;
  /** Wall clock, ms. */
  readonly now: number;
}

/**
 * The one lifecycle rule: how a job's end changes its row. Undefined means "write nothing". A retryable
 * failure waits (retrying, with its next try) unless retries later are off; any other failure is final.
 */
export function endPatch(end: JobEnd): RecordPatch | undefined {
  const { outcome, bytes } = end;
  if (outcome.kind === "finished") {
    const { file } = outcome;
    return {
      state: "finished",
      path: file.path,
      sha256: file.sha256,
      bytesDownloaded: file.bytes,
      attempts: 0,
    };
  }
  if (outcome.kind === "stopped") {
    switch (outcome.reason.kind) {
      case "pause":
        return { state: "paused", bytesDownloaded: bytes };
      case "shutdown":
      case "requeue":
        return { state: "queued", bytesDownloaded: bytes };
      case "remove":
      case "lost":
        return undefined;
      case "conflict":
        return { state: "failed", failure: failureInfo(outcome.reason.error) };
    }
  }
  const failure = failureInfo(outcome.error);
  const attempts = end.attempts + 1;
  const retryAfter = outcome.error instanceof HttpStatusError ? outcome.error.retryAfter : undefined;
  if (!failure.retryable || !end.retryLater)
    return { state: "failed", failure, attempts, bytesDownloaded: bytes };
  const delay = retryDelayMs(attempts, retryAfter, end.retryBaseMs ?? RETRY_BASE_MS);
  if (delay === undefined) return { state: "failed", failure, attempts, bytesDownloaded: bytes };
  return { state: "retrying", failure, attempts, nextTryAt: end.now + delay, bytesDownloaded: bytes };
}
