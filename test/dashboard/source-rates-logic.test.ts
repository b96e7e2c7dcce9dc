import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { ProgressSchema, SegmentState, SourceState } from "../../src/gen/dlm/v1/progress_pb.ts";
import {
  sourcesOf,
  sourcesOfProgress,
  sourceText,
} from "../../src/interfaces/http/dashboard/manager/source-rates.ts";

// The sources both dashboards list: each connection counted for the source its segment names, the engine's
// verdict (demoted, dropped) and bytes from the message's sources.
const MiB = 1024 * 1024;

function progress() {
  return create(ProgressSchema, {
    segments: [
      { id: 0, worker: 0, state: SegmentState.ACTIVE, bytesPerSecond: 2 * MiB, source: 0 },
      { id: 1, worker: 1, state: SegmentState.ACTIVE, bytesPerSecond: MiB, source: 1 },
      { id: 2, worker: 2, state: SegmentState.STALLED, bytesPerSecond: 0, source: 1 },
      { id: 3, state: SegmentState.DONE },
    ],
    sources: [
      { id: 0, url: "http://a.example/f", state: SourceState.ACTIVE, bytes: BigInt(3 * MiB) },
      { id: 1, url: "http://b.example/f", state: SourceState.ACTIVE, bytes: BigInt(MiB) },
      { id: 2, url: "http://c.example/f", state: SourceState.DROPPED, bytes: 0n },
    ],
  });
}

describe("sourcesOfProgress", () => {
  test("connections count for the source their segment names; reported state and bytes are kept", () => {
    const sources = sourcesOfProgress(progress(), ["http://given.example/f"]);
    expect(sources.map((s) => [s.id, s.url, s.connections, s.bytesPerSecond, s.state, s.bytes])).toEqual([
      [0, "http://a.example/f", 1, 2 * MiB, "active", 3 * MiB],
      [1, "http://b.example/f", 2, MiB, "trouble", MiB],
      [2, "http://c.example/f", 0, 0, "dropped", 0],
    ]);
  });

  test("not running: no connection is counted", () => {
    const sources = sourcesOfProgress(progress(), [], false);
    expect(sources.map((s) => s.connections)).toEqual([0, 0, 0]);
  });

  test("a message without sources (an older dlm): the URLs given, every connection for source 0", () => {
    const old = create(ProgressSchema, {
      segments: [{ id: 0, worker: 0, state: SegmentState.ACTIVE, bytesPerSecond: 5 }],
    });
    expect(sourcesOfProgress(old, ["http://a/f"])).toEqual([
      { id: 0, url: "http://a/f", bytesPerSecond: 5, connections: 1, state: "active" },
    ]);
  });

  test("a demoted source says so even while its connections work", () => {
    const [source] = sourcesOf(
      [
        {
          worker: 0,
          bytesPerSecond: 10,
          measured: true,
          segment: 0,
          state: "active",
          retries: 0,
          slow: false,
          source: 0,
        },
      ],
      [],
      [{ id: 0, url: "http://a/f", state: "demoted", bytes: 7 }],
    );
    expect(source?.state).toBe("demoted");
  });
});

describe("sourceText", () => {
  test("host, rate, connections, bytes and a state that is not plain active", () => {
    const [a, b, c] = sourcesOfProgress(progress(), []);
    expect(a && sourceText(a)).toBe("#0 a.example 2.00 MiB/s, 1 connection, 3.00 MiB");
    expect(b && sourceText(b)).toBe("#1 b.example 1.00 MiB/s, 2 connections, 1.00 MiB (trouble)");
    expect(c && sourceText(c)).toBe("#2 c.example idle, 0 B (dropped)");
  });
});
