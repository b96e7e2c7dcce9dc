// The scheduler on the link simulator: invariants on every link shape, time against ideal per shape, and
// the steal and restart decisions a real server cannot make deterministic. DLM_SIM_TABLE=1 prints the table.
import { describe, expect, test } from "bun:test";
import { TICK_MS } from "../../src/engine/scheduler.ts";
import { lengthOf } from "../../src/engine/segment.ts";
import { expectTiling } from "./expect-tiling.ts";
import { type SimResult, simulate } from "./link-simulator.ts";
import { CONNECTIONS, SHAPES, type ShapeCase, SIZES_MIB } from "./shapes.ts";

const MiB = 1 << 20;
/**
 * At 16 MiB a download lasts a few ticks: the first (blind) segments on slow slots show against an ideal
 * that counts them fast. What issue 24 asks of small files is below: 16 connections never slower than 8.
 */
const SMALL_FILE_BOUND = 2;
/** Bytes fetched twice, over the file's size: an end game on a small file drops a slow victim's in-flight bytes. */
const maxServedRatio = (sizeMiB: number): number => (sizeMiB < 128 ? 1.08 : 1.05);

interface Row {
  readonly c: ShapeCase;
  readonly sizeMiB: number;
  readonly connections: number;
  readonly result: SimResult;
}

function run(c: ShapeCase, sizeMiB: number, connections: number): SimResult {
  return simulate({ sizeBytes: sizeMiB * MiB, connections, shape: c.shape });
}

// CPU time of this thread, not wall time: the machines CI runs on are shared, and neither a busy neighbour
// nor the rest of the suite in this process (servers, hash threads) is the simulator's cost. The table is
// computed synchronously, so nothing else runs on this thread meanwhile.
const cpuBefore = process.threadCpuUsage();
const rows: Row[] = [];
for (const c of SHAPES)
  for (const sizeMiB of SIZES_MIB)
    for (const connections of CONNECTIONS)
      rows.push({ c, sizeMiB, connections, result: run(c, sizeMiB, connections) });
const cpu = process.threadCpuUsage(cpuBefore);
const tableMs = (cpu.user + cpu.system) / 1000;

/** The table as markdown, for the closing note. */
function table(): string {
  const lines = [
    "| link shape | size | conns | last byte s | ideal s | × ideal | verified s | served/size | requests | steals | restarts | stall aborts | conns opened |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { c, sizeMiB, connections, result: r } of rows) {
    const steals = r.work.filter((w) => w.victim !== undefined).length;
    const restarts = r.decisions.filter((d) => d.kind === "slow").length;
    const stalls = r.decisions.filter((d) => d.kind === "stalled").length;
    const size = sizeMiB >= 1024 ? `${sizeMiB / 1024} GiB` : `${sizeMiB} MiB`;
    lines.push(
      `| ${c.shape.name} | ${size} | ${connections} | ${r.seconds.toFixed(3)} | ${r.idealSeconds.toFixed(3)} | ${(r.seconds / r.idealSeconds).toFixed(2)} | ${r.verifiedSeconds.toFixed(3)} | ${(r.servedBytes / (sizeMiB * MiB)).toFixed(4)} | ${r.requests.length} | ${steals} | ${restarts} | ${stalls} | ${r.connectionsOpened} |`,
    );
  }
  return lines.join("\n");
}

if (process.env["DLM_SIM_TABLE"] === "1")
  console.log(`${table()}\n\n${rows.length} runs in ${tableMs.toFixed(0)} ms of CPU`);

describe("link simulator: invariants on every shape", () => {
  test("the whole table takes well under a second of CPU", () => {
    expect(tableMs).toBeLessThan(1000);
  });

  test.each(rows.map((r) => [r.c.shape.name, r.sizeMiB, r.connections, r] as const))(
    "%s, %d MiB, %d connections: segments tile the file, each handed out, all done",
    (_name, sizeMiB, _connections, { result }) => {
      const size = sizeMiB * MiB;
      const sorted = expectTiling(result.segments, size);
      const handedOut = new Set(result.work.map((w) => w.segment));
      for (const s of sorted) expect(handedOut.has(s)).toBe(true);
    },
  );

  test.each(rows.map((r) => [r.c.shape.name, r.sizeMiB, r.connections, r] as const))(
    "%s, %d MiB, %d connections: nothing fetched twice beyond the in-flight allowance",
    (_name, sizeMiB, _connections, { result }) => {
      const size = sizeMiB * MiB;
      expect(result.servedBytes - size).toBeLessThanOrEqual(result.allowanceBytes + 1);
      expect(result.servedBytes / size).toBeLessThan(maxServedRatio(sizeMiB));
    },
  );

  test.each(rows.map((r) => [r.c.shape.name, r.sizeMiB, r.connections, r] as const))(
    "%s, %d MiB, %d connections: time within the shape's bound of ideal",
    (_name, sizeMiB, _connections, { c, result }) => {
      expect(result.seconds / result.idealSeconds).toBeLessThanOrEqual(
        sizeMiB < 128 ? SMALL_FILE_BOUND : c.bound,
      );
    },
  );

  test.each(SHAPES.map((c) => [c.shape.name, c] as const))(
    "%s, 16 MiB: 16 connections are no slower than 8 (issue 24)",
    (_name, c) => {
      const of = (connections: number) =>
        rows.find((r) => r.c === c && r.sizeMiB === 16 && r.connections === connections)?.result.seconds ?? 0;
      expect(of(16)).toBeLessThanOrEqual(of(8) * 1.05);
    },
  );

  test("the same inputs give the same run", () => {
    const c = SHAPES.find((s) => s.shape.drops !== undefined);
    if (c === undefined) throw new Error("no drop shape");
    const a = run(c, 128, 8);
    const b = run(c, 128, 8);
    expect(b.seconds).toBe(a.seconds);
    expect(b.requests).toEqual(a.requests);
  });
});

describe("link simulator: steal and restart decisions a real server cannot make deterministic", () => {
  const shape = (name: string) => {
    const c = SHAPES.find((s) => s.shape.name.startsWith(name));
    if (c === undefined) throw new Error(`no shape ${name}`);
    return c;
  };

  test("a capped, even link: no steal, no restart, nothing fetched twice", () => {
    const r = run(shape("capped"), 128, 16);
    expect(r.decisions).toEqual([]);
    expect(r.work.filter((w) => w.victim !== undefined)).toEqual([]);
    expect(r.servedBytes).toBe(128 * MiB);
  });

  test("slow connection slots are replaced at the first tick, again if the fresh one is slow too", () => {
    const r = run(shape("uneven"), 128, 16);
    // Connections 4, 8, 12, 16 are slow (workers 3, 7, 11, 15); their replacements are 17 to 20, and 20 is
    // slow again, so worker 15 is restarted once more at the next tick; 21 is fast.
    const early = r.decisions.filter((d) => d.atMs <= 2 * TICK_MS);
    expect(early.map((d) => [d.atMs, d.kind, d.worker])).toEqual([
      [TICK_MS, "slow", 3],
      [TICK_MS, "slow", 7],
      [TICK_MS, "slow", 11],
      [TICK_MS, "slow", 15],
      [2 * TICK_MS, "slow", 15],
    ]);
    for (const d of early) {
      const before = r.requests.filter((q) => q.worker === d.worker && q.atMs < d.atMs).at(-1);
      const after = r.requests.find((q) => q.worker === d.worker && q.atMs >= d.atMs);
      // A fresh connection, asking for the rest of the same segment from where the slow one stopped.
      expect(after?.connection).not.toBe(before?.connection);
      expect(after?.start).toBeGreaterThan(before?.start ?? Number.POSITIVE_INFINITY);
      expect(after?.end).toBe(before?.end ?? -1);
    }
  });

  test("a worker whose fresh connections stay slow is restarted twice in a row at most, then stolen from", () => {
    const r = run(shape("every 4th worker"), 128, 16);
    for (const worker of [3, 7, 11, 15]) {
      expect(r.decisions.filter((d) => d.worker === worker && d.kind === "slow").length).toBeLessThanOrEqual(
        2,
      );
    }
    const slowSteals = r.work.filter((w) => w.kind === "slow");
    expect(slowSteals.length).toBeGreaterThan(0);
    // Each takes the back of a segment still being fetched: it starts inside it, past what it had.
    // (A victim may be split again later, so its end now may be before this part's start.)
    for (const w of slowSteals) expect(w.segment.start).toBeGreaterThanOrEqual((w.victim?.end ?? -2) + 1);
  });

  test("a silent connection is replaced as a slow one, long before the stall timeout", () => {
    const r = run(shape("every 7th conn stalls"), 128, 8);
    expect(r.decisions.map((d) => d.kind)).toEqual(["slow"]);
    expect(r.decisions[0]?.atMs).toBeLessThan(1000);
  });

  // The bench's uneven link when the pacer is short of CPU (it shares 2 cores with dlm): the fast connections
  // get 5-8 MiB/s instead of 16, the slow ones still 2, so a slow one is at a third of its peers, above the
  // slow ratio (a quarter): not restarted, and the end game split it only in whole --min-split parts.
  const shortOfCpu = (linkMiB: number) => ({
    name: `uneven, link ${linkMiB} MiB/s`,
    capBytesPerSec: 16 * MiB,
    rttMs: 2,
    slowSlots: { every: 4, factor: 8 },
    linkCapBytesPerSec: linkMiB * MiB,
  });

  test.each([
    // [link, size MiB, bound on × ideal] (before the end game split connections 1.5x slower than the thief
    // down to 256 KiB: 1.14, 1.99, 2.98)
    [64, 128, 1.07],
    [64, 16, 1.35],
    [96, 16, 1.5],
  ] as const)(
    "uneven link capped at %d MiB/s in all, %d MiB, 16 connections: slow connections above the slow ratio do not hold the tail",
    (linkMiB, sizeMiB, bound) => {
      const r = simulate({ sizeBytes: sizeMiB * MiB, connections: 16, shape: shortOfCpu(linkMiB) });
      expect(r.decisions.filter((d) => d.kind === "slow")).toEqual([]);
      expect(r.work.filter((w) => w.kind === "stolen").length).toBeGreaterThan(0);
      expect(r.seconds / r.idealSeconds).toBeLessThanOrEqual(bound);
      // Bytes fetched twice: at most a --min-split segment per slow connection.
      expect(r.servedBytes - sizeMiB * MiB).toBeLessThanOrEqual(4 * MiB);
    },
  );

  test("a worker 3x slower on every connection (not slow by the ratio) does not end a 128 MiB run last", () => {
    const shape = { name: "3x", capBytesPerSec: 16 * MiB, rttMs: 2, slowWorkers: { every: 4, factor: 3 } };
    const r = simulate({ sizeBytes: 128 * MiB, connections: 16, shape });
    // 1.25 before the end game took parts under --min-split from a victim under 1/4 of the thief's rate only.
    expect(r.seconds / r.idealSeconds).toBeLessThanOrEqual(1.15);
    const small = r.work.filter((w) => w.kind === "stolen" && lengthOf(w.segment) < MiB);
    expect(small.length).toBeGreaterThan(0);
  });

  test("a worker waiting out a retry backoff gives its whole remainder to an idle worker", () => {
    const r = run(shape("every 5th conn drops"), 128, 16);
    const steals = r.work.filter((w) => w.kind === "stolen");
    expect(steals.length).toBeGreaterThan(0);
    // The victims keep nothing they had not already stored: the split is at their next missing byte.
    for (const w of steals) expect(w.victim?.end).toBe((w.victim?.start ?? 0) + (w.victim?.done ?? 0) - 1);
    expect(r.seconds / r.idealSeconds).toBeLessThan(1.2);
  });
});
