import { describe, expect, test } from "bun:test";
import {
  DEFAULT_RETRY_OPTIONS,
  decideRetry,
  describeFailure,
  type FailureKind,
  isRetryableStatus,
  parseRetryAfter,
  type RetryDecision,
  type RetryOptions,
} from "../src/engine/retry-policy.ts";
import { afterProgress } from "../src/engine/worker.ts";

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0); // Sun, 15 Jun 2025 12:00:00 GMT
const half = () => 0.5;
const zero = () => 0;
const almostOne = () => 0.999;

describe("parseRetryAfter", () => {
  const rows: [string, string | undefined, number | undefined][] = [
    ["absent", undefined, undefined],
    ["zero seconds", "0", 0],
    ["delta-seconds", "120", 120_000],
    ["delta-seconds with leading zeros", "007", 7_000],
    ["surrounding whitespace", "  5 ", 5_000],
    ["negative seconds", "-5", 0],
    ["huge delta-seconds", "99999999999", 99_999_999_999_000],
    ["IMF-fixdate 30 s ahead", "Sun, 15 Jun 2025 12:00:30 GMT", 30_000],
    ["IMF-fixdate exactly now", "Sun, 15 Jun 2025 12:00:00 GMT", 0],
    ["IMF-fixdate in the past", "Sun, 06 Nov 1994 08:49:37 GMT", 0],
    ["IMF-fixdate one day ahead", "Mon, 16 Jun 2025 12:00:00 GMT", 86_400_000],
    ["IMF-fixdate lowercase names", "sun, 15 jun 2025 12:01:00 gmt", 60_000],
    ["RFC 850 date ahead", "Sunday, 15-Jun-25 12:00:10 GMT", 10_000],
    ["RFC 850 date in the past", "Sunday, 06-Nov-94 08:49:37 GMT", 0],
    ["RFC 850 year 74 is 2074, not 1974", "Friday, 15-Jun-74 12:00:00 GMT", Date.UTC(2074, 5, 15, 12) - NOW],
    ["RFC 850 year 76 is 1976 (more than 50 years ahead otherwise)", "Tuesday, 15-Jun-76 12:00:00 GMT", 0],
    ["asctime ahead, read as UTC", "Sun Jun 15 12:00:45 2025", 45_000],
    ["asctime with a padded day", "Sun Nov  6 08:49:37 1994", 0],
    ["leap second", "Sun, 15 Jun 2025 12:00:60 GMT", 59_000],
    ["empty", "", undefined],
    ["garbage", "soon", undefined],
    ["Date.parse-friendly garbage", "garbage 12", undefined],
    ["fractional seconds", "1.5", undefined],
    ["seconds with a unit", "10s", undefined],
    ["IMF-fixdate with trailing junk", "Sun, 15 Jun 2025 12:00:30 GMT junk", undefined],
    ["IMF-fixdate without GMT", "Sun, 15 Jun 2025 12:00:30", undefined],
    ["ISO 8601 is not an HTTP-date", "2025-06-15T12:00:30Z", undefined],
    ["unknown month", "Sun, 15 Jux 2025 12:00:30 GMT", undefined],
    ["impossible day", "Sun, 30 Feb 2025 12:00:30 GMT", undefined],
    ["hour 24", "Sun, 15 Jun 2025 24:00:00 GMT", undefined],
    ["minute 60", "Sun, 15 Jun 2025 12:60:00 GMT", undefined],
  ];
  test.each(rows)("%s: %p", (_name, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  test("does not depend on the local time zone", () => {
    // asctime carries no zone; Date.parse would read it as local time. The result must equal the IMF form's.
    expect(parseRetryAfter("Sun Jun 15 13:00:00 2025", NOW)).toBe(
      parseRetryAfter("Sun, 15 Jun 2025 13:00:00 GMT", NOW),
    );
  });
});

describe("decideRetry: which failures are retried", () => {
  const rows: [string, FailureKind, boolean, string | undefined][] = [
    ["500", { kind: "status", status: 500 }, true, undefined],
    ["502", { kind: "status", status: 502 }, true, undefined],
    ["503", { kind: "status", status: 503 }, true, undefined],
    ["504", { kind: "status", status: 504 }, true, undefined],
    ["599", { kind: "status", status: 599 }, true, undefined],
    ["408", { kind: "status", status: 408 }, true, undefined],
    ["429", { kind: "status", status: 429 }, true, undefined],
    ["404", { kind: "status", status: 404 }, false, "HTTP 404 is not retryable"],
    ["403", { kind: "status", status: 403 }, false, "HTTP 403 is not retryable"],
    ["401", { kind: "status", status: 401 }, false, "HTTP 401 is not retryable"],
    ["416", { kind: "status", status: 416 }, false, "HTTP 416 is not retryable"],
    ["400", { kind: "status", status: 400 }, false, "HTTP 400 is not retryable"],
    ["304 that reached here", { kind: "status", status: 304 }, false, "HTTP 304 is not retryable"],
    ["101", { kind: "status", status: 101 }, false, "HTTP 101 is not retryable"],
    ["600 (not a real status)", { kind: "status", status: 600 }, false, "HTTP 600 is not retryable"],
    [
      "404 even with Retry-After",
      { kind: "status", status: 404, retryAfter: "1" },
      false,
      "HTTP 404 is not retryable",
    ],
    [
      "network reset",
      { kind: "network", reason: "reset", cause: new TypeError("fetch failed") },
      true,
      undefined,
    ],
    ["network timeout without cause", { kind: "network", reason: "timeout" }, true, undefined],
    ["ignored range", { kind: "ignored-range" }, true, undefined],
    ["stall", { kind: "stall" }, true, undefined],
    ["bad response", { kind: "bad-response", reason: "short body" }, true, undefined],
  ];
  test.each(rows)("%s", (_name, failure, retry, reason) => {
    const decision = decideRetry(failure, 1, DEFAULT_RETRY_OPTIONS, NOW, half);
    expect(decision.retry).toBe(retry);
    if (!decision.retry) expect(decision.reason).toBe(reason!);
    if (failure.kind === "status") expect(isRetryableStatus(failure.status)).toBe(retry);
  });
});

describe("decideRetry: attempt limits", () => {
  const options: RetryOptions = { ...DEFAULT_RETRY_OPTIONS, maxAttempts: 3 };
  const rows: [number, boolean][] = [
    [1, true],
    [2, true],
    [3, false],
    [4, false],
  ];
  test.each(rows)("attempt %d of 3 → retry %p", (attempt, retry) => {
    const decision = decideRetry({ kind: "stall" }, attempt, options, NOW, half);
    expect(decision.retry).toBe(retry);
    if (!decision.retry) expect(decision.reason).toBe("retries spent: 3 attempts");
  });

  test("the default allows 8 attempts", () => {
    expect(decideRetry({ kind: "network", reason: "reset" }, 7, DEFAULT_RETRY_OPTIONS, NOW, half).retry).toBe(
      true,
    );
    expect(decideRetry({ kind: "network", reason: "reset" }, 8, DEFAULT_RETRY_OPTIONS, NOW, half)).toEqual({
      retry: false,
      reason: "retries spent: 8 attempts",
    });
  });

  test("maxAttempts 1 never retries", () => {
    const decision = decideRetry(
      { kind: "status", status: 503 },
      1,
      { ...options, maxAttempts: 1 },
      NOW,
      half,
    );
    expect(decision).toEqual({ retry: false, reason: "retries spent: 1 attempts" });
  });
});

describe("decideRetry: backoff with full jitter", () => {
  // Defaults: base 500 ms doubling, ceiling 30 s.
  const rows: [string, number, () => number, number][] = [
    ["attempt 1, random 0", 1, zero, 0],
    ["attempt 1, random 0.5", 1, half, 250],
    ["attempt 1, random 0.999", 1, almostOne, 499],
    ["attempt 2, random 0.999", 2, almostOne, 999],
    ["attempt 3, random 0.5", 3, half, 1_000],
    ["attempt 6, random 0.999", 6, almostOne, 15_984],
    ["attempt 7 hits the 30 s cap", 7, almostOne, 29_970],
    ["attempt 7, random 0", 7, zero, 0],
  ];
  test.each(rows)("%s → %d ms", (_name, attempt, random, delayMs) => {
    expect(
      decideRetry({ kind: "network", reason: "reset" }, attempt, DEFAULT_RETRY_OPTIONS, NOW, random),
    ).toEqual({
      retry: true,
      delayMs,
    });
  });

  test("the cap holds for huge attempt numbers", () => {
    const options = { ...DEFAULT_RETRY_OPTIONS, maxAttempts: 10_000 };
    const decision = decideRetry({ kind: "stall" }, 5_000, options, NOW, almostOne);
    expect(decision).toEqual({ retry: true, delayMs: 29_970 });
  });

  test("every delay stays within [0, ceiling) for random in [0, 1)", () => {
    for (let attempt = 1; attempt < DEFAULT_RETRY_OPTIONS.maxAttempts; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** (attempt - 1));
      for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
        const decision = decideRetry(
          { kind: "network", reason: "reset" },
          attempt,
          DEFAULT_RETRY_OPTIONS,
          NOW,
          () => r,
        );
        if (!decision.retry) throw new Error(`attempt ${attempt} was not retried`);
        expect(decision.delayMs).toBeGreaterThanOrEqual(0);
        expect(decision.delayMs).toBeLessThan(ceiling);
      }
    }
  });
});

describe("decideRetry: Retry-After", () => {
  const status = (code: number, retryAfter: string): FailureKind => ({
    kind: "status",
    status: code,
    retryAfter,
  });
  const rows: [string, FailureKind, number, () => number, { retry: true; delayMs: number } | string][] = [
    ["seconds above the jitter", status(503, "10"), 1, half, { retry: true, delayMs: 10_000 }],
    [
      "seconds below the jitter: jitter wins",
      status(503, "1"),
      7,
      almostOne,
      { retry: true, delayMs: 29_970 },
    ],
    ["0 seconds with random 0", status(429, "0"), 1, zero, { retry: true, delayMs: 0 }],
    ["429 with seconds", status(429, "120"), 2, half, { retry: true, delayMs: 120_000 }],
    ["exactly the cap", status(503, "300"), 1, half, { retry: true, delayMs: 300_000 }],
    [
      "above the cap",
      status(503, "301"),
      1,
      half,
      "server asked to wait 301 s (Retry-After), more than the 300 s cap",
    ],
    [
      "far above the cap",
      status(429, "86400"),
      1,
      half,
      "server asked to wait 86400 s (Retry-After), more than the 300 s cap",
    ],
    [
      "HTTP-date 20 s ahead",
      status(503, "Sun, 15 Jun 2025 12:00:20 GMT"),
      1,
      half,
      { retry: true, delayMs: 20_000 },
    ],
    [
      "HTTP-date in the past: jitter",
      status(503, "Sun, 06 Nov 1994 08:49:37 GMT"),
      1,
      half,
      { retry: true, delayMs: 250 },
    ],
    [
      "HTTP-date an hour ahead",
      status(503, "Sun, 15 Jun 2025 13:00:00 GMT"),
      1,
      half,
      "server asked to wait 3600 s (Retry-After), more than the 300 s cap",
    ],
    ["garbage: plain backoff", status(503, "later, please"), 1, half, { retry: true, delayMs: 250 }],
    ["empty: plain backoff", status(503, ""), 3, zero, { retry: true, delayMs: 0 }],
  ];
  test.each(rows)("%s", (_name, failure, attempt, random, expected) => {
    const decision = decideRetry(failure, attempt, DEFAULT_RETRY_OPTIONS, NOW, random);
    expect(decision).toEqual(typeof expected === "string" ? { retry: false, reason: expected } : expected);
  });

  test("attempts spent wins over a Retry-After", () => {
    expect(decideRetry(status(503, "1"), 8, DEFAULT_RETRY_OPTIONS, NOW, half)).toEqual({
      retry: false,
      reason: "retries spent: 8 attempts",
    });
  });

  test("a custom cap below the backoff ceiling also bounds the jittered delay", () => {
    const options: RetryOptions = { ...DEFAULT_RETRY_OPTIONS, maxRetryAfterMs: 2_000 };
    expect(decideRetry(status(503, "1"), 7, options, NOW, almostOne)).toEqual({
      retry: true,
      delayMs: 2_000,
    });
  });

  test("a custom cap names its own seconds", () => {
    const options: RetryOptions = { ...DEFAULT_RETRY_OPTIONS, maxRetryAfterMs: 60_000 };
    expect(decideRetry(status(503, "61"), 1, options, NOW, half)).toEqual({
      retry: false,
      reason: "server asked to wait 61 s (Retry-After), more than the 60 s cap",
    });
  });
});

describe("describeFailure", () => {
  const refused = Object.assign(new Error("Unable to connect"), { code: "ECONNREFUSED" });
  const rows: [string, FailureKind, string][] = [
    ["network, no cause", { kind: "network", reason: "reset" }, "connection reset"],
    ["network, errno code", { kind: "network", reason: "refused", cause: refused }, "connection refused"],
    [
      "tls keeps the innermost code",
      {
        kind: "network",
        reason: "tls",
        cause: Object.assign(new TypeError("x"), { code: "CERT_HAS_EXPIRED" }),
      },
      "TLS failed (CERT_HAS_EXPIRED)",
    ],
    [
      "network, non-error cause",
      { kind: "network", reason: "protocol", cause: "boom" },
      "malformed or refused response",
    ],
    ["ignored range", { kind: "ignored-range" }, "server answered 200 (whole file) to a range request"],
    ["stall", { kind: "stall" }, "stalled: no bytes within the stall timeout"],
    ["status", { kind: "status", status: 503 }, "HTTP 503"],
    [
      "status with Retry-After",
      { kind: "status", status: 429, retryAfter: "5" },
      "HTTP 429 (Retry-After: 5)",
    ],
    [
      "bad response",
      { kind: "bad-response", reason: "short body: 10 of 20 bytes" },
      "bad response: short body: 10 of 20 bytes",
    ],
  ];
  test.each(rows)("%s", (_name, failure, text) => {
    expect(describeFailure(failure)).toBe(text);
  });
});

test("DEFAULT_RETRY_OPTIONS are the documented values and frozen", () => {
  expect(DEFAULT_RETRY_OPTIONS).toEqual({
    maxAttempts: 8,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    maxRetryAfterMs: 300_000,
  });
  expect(Object.isFrozen(DEFAULT_RETRY_OPTIONS)).toBe(true);
});

describe("afterProgress: a connection that was delivering is asked again at once", () => {
  const retry = { retry: true as const, delayMs: 400 };
  const rows: [string, RetryDecision, FailureKind, boolean, RetryDecision][] = [
    [
      "reset after progress: no wait",
      retry,
      { kind: "network", reason: "reset" },
      true,
      { retry: true, delayMs: 0 },
    ],
    ["stall after progress: no wait", retry, { kind: "stall" }, true, { retry: true, delayMs: 0 }],
    ["reset without progress keeps its backoff", retry, { kind: "network", reason: "reset" }, false, retry],
    ["a 503 keeps its policy", retry, { kind: "status", status: 503 }, true, retry],
    [
      "retries spent stay spent (--retries 0)",
      { retry: false, reason: "retries spent: 1 attempts" },
      { kind: "network", reason: "reset" },
      true,
      { retry: false, reason: "retries spent: 1 attempts" },
    ],
  ];
  test.each(rows)("%s", (_name, decision, failure, progressed, expected) => {
    expect(afterProgress(decision, failure, progressed)).toEqual(expected);
  });
});
