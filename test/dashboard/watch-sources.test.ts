import { describe, expect, test } from "bun:test";
import { sourceLine, watchLines } from "../../src/interfaces/cli/watch-view.ts";
import type { ProgressSnapshot, SourceProgress } from "../../src/progress/snapshot.ts";

// `dlm watch FILE` with mirrors: a line per source between the status line and the map.
const MiB = 1024 * 1024;

function snapshot(sources: SourceProgress[]): ProgressSnapshot {
  return {
    download: "/tmp/f.bin",
    url: "http://127.0.0.1/f.bin",
    state: "running",
    bytesDownloaded: 2 * MiB,
    totalBytes: 4 * MiB,
    percent: 50,
    bytesPerSecond: 3 * MiB,
    etaSeconds: 1,
    activeConnections: 3,
    segments: [
      {
        id: 0,
        start: 0,
        end: 4 * MiB - 1,
        done: 2 * MiB,
        worker: 0,
        state: "active",
        bytesPerSecond: MiB,
        slow: false,
        retries: 0,
        source: 1,
      },
    ],
    sources,
    elapsedMs: 1000,
  };
}

const MAIN: SourceProgress = {
  id: 0,
  url: "http://a.example/f.bin",
  state: "active",
  bytes: MiB,
  bytesPerSecond: 2 * MiB,
  connections: 2,
};
const MIRROR: SourceProgress = {
  id: 1,
  url: "http://b.example/f.bin",
  state: "demoted",
  bytes: MiB,
  bytesPerSecond: MiB,
  connections: 1,
};

describe("watch view sources", () => {
  test("a line per source (rate, connections, bytes, state, URL) between status and map", () => {
    const lines = watchLines(snapshot([MAIN, MIRROR]), 40, false);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe("  #0  2.00 MiB/s  2 conn   1.00 MiB  active   http://a.example/f.bin");
    expect(lines[2]).toBe("  #1  1.00 MiB/s  1 conn   1.00 MiB  demoted  http://b.example/f.bin");
    expect(lines[3]?.startsWith("▕")).toBe(true);
  });

  test("one source only: no sources line (the status line says it all)", () => {
    expect(watchLines(snapshot([MAIN]), 40, false)).toHaveLength(2);
    expect(watchLines(snapshot([]), 40, false)).toHaveLength(2);
  });

  test("a dropped source says so; size unknown keeps the sources lines", () => {
    const dropped = { ...MIRROR, state: "dropped" as const, connections: 0, bytesPerSecond: 0 };
    expect(sourceLine(dropped)).toContain("dropped");
    const lines = watchLines({ ...snapshot([MAIN, dropped]), totalBytes: undefined }, 40, false);
    expect(lines).toHaveLength(3);
  });
});
