import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { watchLines } from "../../src/interfaces/cli/watch-view.ts";
import { formatBytes } from "../../src/interfaces/shared/format.ts";
import {
  glyphFor,
  type MapSegment,
  SegmentOwners,
  segmentMap,
} from "../../src/interfaces/shared/segment-map.ts";
import type { ProgressSnapshot } from "../../src/progress/snapshot.ts";

const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, "g");
const strip = (text: string) => text.replace(ANSI, "");

function seg(
  start: number,
  end: number,
  done: number,
  worker?: number,
  state: MapSegment["state"] = "active",
) {
  return { start, end, done, worker, state } satisfies MapSegment;
}

const plain = (segments: MapSegment[], totalBytes: number, width = 10, first?: number) =>
  segmentMap(segments, { width, totalBytes, color: false, ...(first === undefined ? {} : { first }) });

describe("glyphFor", () => {
  test.each([
    [0, "·"],
    [0.001, "░"],
    [0.32, "░"],
    [1 / 3, "▒"],
    [0.6, "▒"],
    [2 / 3, "▓"],
    [0.999, "▓"],
    [1, "█"],
  ] as const)("%p done -> %p", (fraction, glyph) => {
    expect(glyphFor(fraction)).toBe(glyph);
  });
});

describe("segmentMap", () => {
  test("nothing done is all pending; everything done is all full", () => {
    expect(plain([seg(0, 99, 0)], 100)).toBe("··········");
    expect(plain([], 100)).toBe("··········");
    expect(plain([seg(0, 49, 50), seg(50, 99, 50)], 100)).toBe("██████████");
  });

  test("a cell shows the share of its bytes that is done", () => {
    // Cells cover 10 bytes each: 55 done bytes fill five cells and half of the sixth.
    expect(plain([seg(0, 99, 55)], 100)).toBe("█████▒····");
    expect(plain([seg(0, 99, 52)], 100)).toBe("█████░····");
    expect(plain([seg(0, 99, 58)], 100)).toBe("█████▓····");
  });

  test("segments sharing a cell add up; a later segment's progress lands in its own cells", () => {
    expect(plain([seg(0, 4, 5), seg(5, 9, 5)], 10, 1)).toBe("█");
    expect(plain([seg(0, 49, 20), seg(50, 99, 30)], 100)).toBe("██···███··");
  });

  test("a --range-start slice is drawn from its first byte", () => {
    expect(plain([seg(1000, 1049, 50), seg(1050, 1099, 0)], 100)).toBe("█████·····");
    expect(plain([seg(1050, 1099, 50)], 100, 10, 1000)).toBe("·····█████");
  });

  test("done beyond a segment's end (a shrunk, stolen-from segment) is clamped", () => {
    expect(plain([seg(0, 29, 80), seg(30, 99, 0)], 100)).toBe("███·······");
  });

  test("small files get one cell per byte; an empty file is one full cell", () => {
    expect(plain([seg(0, 2, 2)], 3)).toBe("██·");
    expect(plain([], 0)).toBe("█");
  });

  test("colours by connection, red for trouble, dim for pending; text unchanged under the colours", () => {
    const segments = [seg(0, 24, 25, 0), seg(25, 49, 25, 1), seg(50, 74, 10, 2, "stalled"), seg(75, 99, 0)];
    const coloured = segmentMap(segments, { width: 8, totalBytes: 100, color: true });
    expect(strip(coloured)).toBe(plain(segments, 100, 8));
    expect(coloured).toContain("\x1b[34m██\x1b[39m");
    expect(coloured).toContain("\x1b[32m██\x1b[39m");
    // Cell 4 covers bytes 50..62.5, 10 of them done: ▓, red for the stalled segment.
    expect(coloured).toContain("\x1b[31m▓");
    expect(coloured).toContain("\x1b[90m");
  });

  test("property: one glyph per cell, and a complete plan draws only full cells", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 200 }),
        fc.nat(10_000),
        (lengths, width, first) => {
          let start = first;
          const segments = lengths.map((length) => {
            const s = seg(start, start + length - 1, length);
            start += length;
            return s;
          });
          const total = start - first;
          const map = plain(segments, total, width);
          expect([...map].length).toBe(Math.min(width, total));
          expect(map).toMatch(/^█+$/);
          const half = plain(
            segments.map((s) => ({ ...s, done: Math.floor(s.done / 2) })),
            total,
            width,
          );
          expect([...half].length).toBe(Math.min(width, total));
        },
      ),
    );
  });
});

describe("SegmentOwners", () => {
  test("a finished segment keeps the connection that fetched it", () => {
    const owners = new SegmentOwners();
    const at = (worker: number | undefined) => [
      { id: 3, worker },
      { id: 4, worker: undefined },
    ];
    expect(owners.withOwners(at(2))).toEqual([
      { id: 3, worker: 2 },
      { id: 4, worker: undefined },
    ]);
    expect(owners.withOwners(at(undefined))).toEqual([
      { id: 3, worker: 2 },
      { id: 4, worker: undefined },
    ]);
    expect(owners.withOwners(at(5))[0]).toEqual({ id: 3, worker: 5 });
  });
});

describe("watchLines", () => {
  const snapshot: ProgressSnapshot = {
    download: "/tmp/f.bin",
    url: "http://127.0.0.1/f.bin",
    state: "running",
    bytesDownloaded: 3 * 1024 * 1024,
    totalBytes: 4 * 1024 * 1024,
    percent: 75,
    bytesPerSecond: 1024 * 1024,
    etaSeconds: 1,
    activeConnections: 1,
    segments: [
      {
        id: 0,
        start: 0,
        end: 2 * 1024 * 1024 - 1,
        done: 2 * 1024 * 1024,
        worker: 0,
        state: "done",
        bytesPerSecond: 0,
        slow: false,
        retries: 0,
      },
      {
        id: 1,
        start: 2 * 1024 * 1024,
        end: 4 * 1024 * 1024 - 1,
        done: 1024 * 1024,
        worker: 1,
        state: "active",
        bytesPerSecond: 0,
        slow: false,
        retries: 0,
      },
    ],
    elapsedMs: 3000,
  };

  test("status line and a framed map exactly `width` columns wide", () => {
    const [status, map] = watchLines(snapshot, 22, false);
    expect(status).toBe("running    75.0%  3.00 MiB / 4.00 MiB  1.00 MiB/s  ETA 1.0s  1 conn");
    expect(map).toBe(`▕${"█".repeat(15)}${"·".repeat(5)}▏`);
  });

  test("no map when the size is unknown", () => {
    expect(watchLines({ ...snapshot, totalBytes: undefined, percent: undefined }, 40, false)).toHaveLength(1);
  });
});

describe("formatBytes at unit edges (shared by the watch view and the dashboard)", () => {
  test.each([
    [1023, "1023 B"],
    [1024, "1.00 KiB"],
    [1047552, "1023 KiB"],
    // 1023.999 KiB rounds to 1024: say the next unit instead.
    [1048575, "1.00 MiB"],
    [1073741823, "1.00 GiB"],
  ] as const)("%p -> %p", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
