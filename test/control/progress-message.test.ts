import { describe, expect, test } from "bun:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ProgressSchema, SegmentState, State } from "../../src/gen/dlm/v1/progress_pb.ts";
import { streamOutcome, toEncodedProgress, toProgress } from "../../src/interfaces/rpc/progress-message.ts";
import type { ProgressSnapshot } from "../../src/progress/snapshot.ts";

const snapshot: ProgressSnapshot = {
  download: "/tmp/out.bin",
  url: "http://127.0.0.1:1/out.bin",
  state: "running",
  bytesDownloaded: 3_000_000_123,
  totalBytes: 6_000_000_000,
  percent: 50.000002,
  bytesPerSecond: 123_456.5,
  etaSeconds: 24.3,
  activeConnections: 1,
  segments: [
    {
      id: 0,
      start: 0,
      end: 2_999_999_999,
      done: 3_000_000_000,
      worker: undefined,
      state: "done",
      bytesPerSecond: 0,
      slow: false,
      retries: 0,
    },
    {
      id: 7,
      start: 3_000_000_000,
      end: 5_999_999_999,
      done: 123,
      worker: 2,
      state: "retrying",
      bytesPerSecond: 9.5,
      slow: true,
      retries: 3,
    },
  ],
  elapsedMs: 4321,
};

describe("toProgress", () => {
  test("maps every field, keeps 64-bit byte counts exact and leaves absent values absent", () => {
    const p = toProgress(snapshot);
    expect(p.bytesDownloaded).toBe(3_000_000_123n);
    expect(p.totalBytes).toBe(6_000_000_000n);
    expect([p.percent, p.bytesPerSecond, p.etaSeconds, p.state]).toEqual([
      50.000002,
      123_456.5,
      24.3,
      State.RUNNING,
    ]);
    expect([p.output, p.url, p.elapsedMs, p.activeConnections]).toEqual([
      snapshot.download,
      snapshot.url,
      4321n,
      1,
    ]);
    expect(
      p.segments.map((s) => [
        s.id,
        s.start,
        s.end,
        s.done,
        s.worker,
        s.state,
        s.retries,
        s.bytesPerSecond,
        s.slow,
      ]),
    ).toEqual([
      [0, 0n, 2_999_999_999n, 3_000_000_000n, undefined, SegmentState.DONE, 0, 0, false],
      [7, 3_000_000_000n, 5_999_999_999n, 123n, 2, SegmentState.RETRYING, 3, 9.5, true],
    ]);
    const unknown = toProgress({
      ...snapshot,
      totalBytes: undefined,
      percent: undefined,
      etaSeconds: undefined,
    });
    expect([unknown.totalBytes, unknown.percent, unknown.etaSeconds, unknown.failure]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  test("is computed once per snapshot (every watcher of a tick shares it)", () => {
    expect(toProgress(snapshot)).toBe(toProgress(snapshot));
    expect(toProgress({ ...snapshot })).not.toBe(toProgress(snapshot));
  });
});

describe("toEncodedProgress", () => {
  test("serializes to exactly the bytes of the full message, and decodes back to it", () => {
    const full = toBinary(ProgressSchema, toProgress(snapshot));
    const shell = toEncodedProgress(snapshot);
    expect(toBinary(ProgressSchema, shell)).toEqual(full);
    expect(fromBinary(ProgressSchema, toBinary(ProgressSchema, shell))).toEqual(
      fromBinary(ProgressSchema, full),
    );
    expect(toEncodedProgress(snapshot)).toBe(shell);
  });

  test("an all-default snapshot encodes to nothing", () => {
    const empty: ProgressSnapshot = {
      ...snapshot,
      download: "",
      url: "",
      state: "probing",
      bytesDownloaded: 0,
      totalBytes: undefined,
      percent: undefined,
      bytesPerSecond: 0,
      etaSeconds: undefined,
      activeConnections: 0,
      segments: [],
      elapsedMs: 0,
    };
    expect(toBinary(ProgressSchema, toEncodedProgress(empty))).toEqual(
      toBinary(ProgressSchema, toProgress(empty)),
    );
  });
});

describe("streamOutcome", () => {
  test.each([
    ["finished", undefined, undefined],
    ["failed", "network", Code.Unavailable],
    ["failed", "integrity", Code.DataLoss],
    ["failed", "remote_changed", Code.Aborted],
    ["failed", "storage", Code.ResourceExhausted],
    ["failed", "http_status", Code.FailedPrecondition],
    ["failed", "something_new", Code.Internal],
    ["cancelled", undefined, Code.Canceled],
    ["paused", undefined, Code.Unavailable],
    ["running", undefined, Code.Unavailable],
    ["verifying", undefined, Code.Unavailable],
  ] as const)("%s (%s) -> %p", (state, code, expected) => {
    const last: ProgressSnapshot = {
      ...snapshot,
      state,
      ...(code === undefined ? {} : { error: { code, message: `boom: ${code}` } }),
    };
    const error = streamOutcome(last);
    expect(error?.code).toBe(expected);
    if (state === "failed") expect(error?.rawMessage).toBe(`boom: ${code}`);
    if (state === "paused") expect(error?.rawMessage).toContain("dlm resume /tmp/out.bin");
  });
});
