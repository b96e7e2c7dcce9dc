// The scheduler on the link simulator: invariants on every link shape, time against ideal per shape, and
// the steal and restart decisions a real server cannot make deterministic. DLM_SIM_TABLE=1 prints the table.
import { describe, expect, test } from "bun:test";
import { lengthOf } from "../../src/engine/segment.ts";
import { type SimResult, simulate } from "./link-simulator.ts";
import { CONNECTIONS, SHAPES, type ShapeCase, SIZES_MIB } from "./shapes.ts";

const MiB = 1 << 20;

interface Row {
  readonly c: ShapeCase;
  readonly sizeMiB: number;
  readonly connections: number;
  readonly result: SimResult;
}

function run(c: ShapeCase, sizeMiB: number, connections: number): SimResult {
  return simulate({ sizeBytes: sizeMiB * MiB, connections, shape: c.shape });
}

// CPU time, not wall time: the machines CI runs on are shared, and a busy neighbour is not the simulator's cost.
const cpuBefore = process.cpuUsage();
const rows: Row[] = [];
for (const c of SHAPES)
  for (const sizeMiB of SIZES_MIB)
    for (const connections of CONNECTIONS)
      rows.push({ c, sizeMiB, connections, result: run(c, sizeMiB, connections) });
const cpu = process.cpuUsage(cpuBefore);
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
      const sorted = [...result.segments].filter((s) => lengthOf(s) > 0).sort((a, b) => a.start - b.start);
      let next = 0;
      for (const s of sorted) {
        expect(s.start).toBe(next);
        expect(s.done).toBe(lengthOf(s));
        next = s.end + 1;
      }
      expect(next).toBe(size);
      const handedOut = new Set(result.work.map((w) => w.segment));
      for (const s of sorted) expect(handedOut.has(s)).toBe(true);
    },
  );

  test.each(rows.map((r) => [r.c.shape.name, r.sizeMiB, r.connections, r] as const))(
    "%s, %d MiB, %d connections: nothing fetched twice beyond the in-flight allowance",
    (_name, sizeMiB, _connections, { result }) => {
      const size = sizeMiB * MiB;
      expect(result.servedBytes - size).toBeLessThanOrEqual(result.allowanceBytes + 1);
      expect(result.servedBytes / size).toBeLessThan(1.05);
    },
  );

  test.each(rows.map((r) => [r.c.shape.name, r.sizeMiB, r.connections, r] as const))(
    "%s, %d MiB, %d connections: time within the shape's bound of ideal",
    (_name, _sizeMiB, _connections, { c, result }) => {
      expect(result.seconds / result.idealSeconds).toBeLessThanOrEqual(c.bound);
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
