// The one lifecycle rule: how a job's end (Controller.outcome) changes its row. Pure: a table of cases.
import { describe, expect, test } from "bun:test";
import type { RunOutcome } from "../../src/control/controller.ts";
import { HttpStatusError, IntegrityError, InterruptedError, OutputExistsError } from "../../src/errors.ts";
import { endPatch, type StopReason } from "../../src/manager/lifecycle.ts";

const NOW = 1_000_000;
const interrupted = new InterruptedError("paused");

function end(outcome: RunOutcome<StopReason>, extra: { attempts?: number; retryLater?: boolean } = {}) {
  return endPatch({
    outcome,
    bytes: 42,
    attempts: extra.attempts ?? 0,
    retryLater: extra.retryLater ?? true,
    retryBaseMs: 100,
    now: NOW,
  });
}

const stopped = (reason: StopReason): RunOutcome<StopReason> => ({
  kind: "stopped",
  reason,
  error: interrupted,
});

describe("endPatch", () => {
  test("finished: the file's path, hash and size; attempts reset", () => {
    const file = { path: "/d/f.bin", sha256: "ab", bytes: 7 } as never;
    expect(end({ kind: "finished", file })).toEqual({
      state: "finished",
      path: "/d/f.bin",
      sha256: "ab",
      bytesDownloaded: 7,
      attempts: 0,
    });
  });

  test.each([
    [{ kind: "pause" }, { state: "paused", bytesDownloaded: 42 }],
    [{ kind: "shutdown" }, { state: "queued", bytesDownloaded: 42 }],
    [{ kind: "requeue" }, { state: "queued", bytesDownloaded: 42 }],
    [{ kind: "remove" }, undefined],
    [{ kind: "lost", why: "taken over" }, undefined],
  ] as const)("stopped for %p", (reason, patch) => {
    expect(end(stopped(reason))).toEqual(patch);
  });

  test("stopped for a conflict: failed, naming the output", () => {
    const error = new OutputExistsError("/d/f.bin is being written by download 3", { file: "/d/f.bin" });
    expect(end(stopped({ kind: "conflict", error }))).toMatchObject({
      state: "failed",
      failure: { kind: "output_exists", message: "/d/f.bin is being written by download 3" },
    });
  });

  test("a retryable failure waits (retrying, next try after the backoff or Retry-After)", () => {
    const error = new HttpStatusError("GET x: 503", { status: 503, retryAfter: "2" });
    expect(end({ kind: "failed", error }, { attempts: 1 })).toMatchObject({
      state: "retrying",
      attempts: 2,
      nextTryAt: NOW + 2_000,
      bytesDownloaded: 42,
    });
  });

  test("a retryable failure with retries later off, or attempts spent, fails", () => {
    const error = new HttpStatusError("GET x: 503", { status: 503 });
    expect(end({ kind: "failed", error }, { retryLater: false })).toMatchObject({
      state: "failed",
      attempts: 1,
    });
    expect(end({ kind: "failed", error }, { attempts: 1_000 })).toMatchObject({ state: "failed" });
  });

  test("a failure that is not retryable fails at once", () => {
    const error = new IntegrityError("checksum mismatch");
    expect(end({ kind: "failed", error })).toMatchObject({
      state: "failed",
      failure: { kind: "integrity", retryable: false },
    });
  });
});
