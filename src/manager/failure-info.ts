import { DlmError, HttpStatusError, NetworkError } from "../errors.ts";
import type { FailureInfo } from "./download-record.ts";

/** First wait before a retryable failure is tried again, ms; it doubles per attempt. */
export const RETRY_BASE_MS = 2_000;
/** Longest wait between tries, ms. */
export const RETRY_MAX_MS = 5 * 60_000;
/** Runs that may end in a retryable failure before the download is failed for good. */
export const MAX_ATTEMPTS = 10;

/**
 * What the queue records of a run's failure. Retryable (the manager tries again later): network failures
 * and HTTP 5xx, 408, 429 — slow or briefly broken is not failed. Everything else (404, integrity, a changed
 * remote file, storage) needs a person.
 */
export function failureInfo(error: unknown): FailureInfo {
  if (!(error instanceof DlmError)) {
    return { kind: "unexpected", retryable: false, message: String((error as Error)?.message ?? error) };
  }
  const status = error instanceof HttpStatusError ? error.status : undefined;
  const retryable =
    error instanceof NetworkError ||
    (status !== undefined && (status >= 500 || status === 408 || status === 429));
  return { kind: error.code, httpStatus: status, retryable, message: error.message };
}

/**
 * How long to wait before attempt `attempts + 1`, ms: exponential from RETRY_BASE_MS, capped at
 * RETRY_MAX_MS; a Retry-After in seconds (RFC 9110 §10.2.3) is honoured when longer. Undefined when the
 * attempts are spent.
 */
export function retryDelayMs(
  attempts: number,
  retryAfter: string | undefined,
  baseMs = RETRY_BASE_MS,
): number | undefined {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  const backoff = Math.min(RETRY_MAX_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  const seconds = retryAfter !== undefined && /^\d{1,6}$/.test(retryAfter.trim()) ? Number(retryAfter) : 0;
  return Math.max(backoff, Math.min(RETRY_MAX_MS, seconds * 1000));
}
