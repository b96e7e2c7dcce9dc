import type { NetworkReason } from "../errors.ts";
import { describeNetworkFailure } from "./network-failure.ts";

/**
 * Why one attempt at a segment failed. `ignored-range` is a 200 (whole file) to a range request, from a
 * server that honoured Range before (a CDN node without it may flap); `bad-response` covers other answers
 * that arrived but cannot be used: a wrong Content-Range, a body shorter than promised.
 */
export type FailureKind =
  | { readonly kind: "network"; readonly reason: NetworkReason; readonly cause?: unknown }
  | { readonly kind: "stall" }
  | { readonly kind: "status"; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: "ignored-range" }
  | { readonly kind: "bad-response"; readonly reason: string };

/** Bounds of the retry loop of one segment. All durations in ms. */
export interface RetryOptions {
  /** Attempts per segment, the first included. */
  readonly maxAttempts: number;
  /** Backoff ceiling of the first retry; doubles with each attempt. */
  readonly baseDelayMs: number;
  /** Cap on the exponential backoff ceiling. */
  readonly maxDelayMs: number;
  /** Longest Retry-After honoured; a server asking for more fails the segment instead of hanging it. */
  readonly maxRetryAfterMs: number;
}

/** Defaults: 8 attempts, 500 ms base, 30 s backoff cap, 5 min Retry-After cap. */
export const DEFAULT_RETRY_OPTIONS: RetryOptions = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 300_000,
});

/** Outcome of `decideRetry`: wait `delayMs` then try again, or give up for `reason` (one line, for messages). */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
// RFC 9110 §5.6.7 HTTP-date forms. Matched strictly because Date.parse accepts garbage ("x 12" is a date)
// and reads asctime, which has no zone, as local time although HTTP dates are always UTC.
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC850_DATE = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME_DATE = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * Parses a Retry-After value (RFC 9110 §10.2.3) into a delay in ms from `nowMs` (epoch ms). Accepts
 * delta-seconds and the three HTTP-date forms (IMF-fixdate, obsolete RFC 850 and asctime), all read as UTC.
 * A negative number or a date not after `nowMs` gives 0; anything else unparseable gives `undefined`.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^-?\d+$/.test(text)) return Math.max(0, Number(text) * 1000);
  const dateMs = parseHttpDate(text, nowMs);
  return dateMs === undefined ? undefined : Math.max(0, dateMs - nowMs);
}

function parseHttpDate(text: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(Number(m[3]), m[2], m[1], m[4], m[5], m[6]);
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead means the most recent such year in the past.
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2], m[1], m[4], m[5], m[6]);
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return utc(Number(m[6]), m[1], m[2], m[3], m[4], m[5]);
  return undefined;
}

/** Epoch ms of a UTC date from regex captures; `undefined` for an unknown month or out-of-range field. */
function utc(
  year: number,
  monthName: string | undefined,
  ...rest: (string | undefined)[]
): number | undefined {
  const month = MONTHS.indexOf(monthName?.toLowerCase() ?? "");
  const [day = Number.NaN, hour = Number.NaN, minute = Number.NaN, second = Number.NaN] = rest.map(Number);
  if (month < 0 || !(hour <= 23 && minute <= 59 && second <= 60)) return undefined;
  // A leap second (:60) is read as :59 rather than rolling into the next minute.
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls Feb 30 over into March; a date that does not round-trip is not a date.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/**
 * Decides whether a segment whose `attempt`-th attempt (1-based) just failed with `failure` is tried again.
 * Retryable: network errors, stalls, bad responses, HTTP 5xx, 408 and 429; every other status fails at once.
 * At most `maxAttempts` attempts. The delay is full jitter, `random() * min(maxDelayMs, baseDelayMs *
 * 2^(attempt-1))`, floored to whole ms; a parseable Retry-After raises it to at least the server's delay,
 * and a Retry-After above `maxRetryAfterMs` ends the retries. `nowMs` (epoch ms) resolves HTTP-dates;
 * `random` returns a number in [0, 1).
 */
export function decideRetry(
  failure: FailureKind,
  attempt: number,
  options: RetryOptions,
  nowMs: number,
  random: () => number,
): RetryDecision {
  if (failure.kind === "status" && !isRetryableStatus(failure.status)) {
    return { retry: false, reason: `HTTP ${failure.status} is not retryable` };
  }
  if (attempt >= options.maxAttempts) {
    return { retry: false, reason: `retries spent: ${options.maxAttempts} attempts` };
  }
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const retryAfterMs = failure.kind === "status" ? parseRetryAfter(failure.retryAfter, nowMs) : undefined;
  if (retryAfterMs === undefined) return { retry: true, delayMs: jittered };
  if (retryAfterMs > options.maxRetryAfterMs) {
    const askedS = Math.ceil(retryAfterMs / 1000);
    const capS = Math.floor(options.maxRetryAfterMs / 1000);
    return {
      retry: false,
      reason: `server asked to wait ${askedS} s (Retry-After), more than the ${capS} s cap`,
    };
  }
  return {
    retry: true,
    delayMs: Math.min(options.maxRetryAfterMs, Math.max(jittered, Math.ceil(retryAfterMs))),
  };
}

/** True for the statuses worth repeating the same request for: 5xx, 408 Request Timeout, 429 Too Many Requests. */
export function isRetryableStatus(status: number): boolean {
  return (status >= 500 && status <= 599) || status === 408 || status === 429;
}

/** One lowercase phrase for a failure, for log fields and error messages ("HTTP 503 (Retry-After: 5)"). */
export function describeFailure(f: FailureKind): string {
  switch (f.kind) {
    case "network":
      return describeNetworkFailure(f.reason, f.cause);
    case "stall":
      return "stalled: no bytes within the stall timeout";
    case "status":
      return f.retryAfter === undefined
        ? `HTTP ${f.status}`
        : `HTTP ${f.status} (Retry-After: ${f.retryAfter})`;
    case "ignored-range":
      return "server answered 200 (whole file) to a range request";
    case "bad-response":
      return `bad response: ${f.reason}`;
  }
}
