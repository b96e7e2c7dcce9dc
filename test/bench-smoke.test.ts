import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BenchOptions, parseBenchArgs, parseBytes, parseSizes } from "../bench/args.ts";
import { ensureBatchSet } from "../bench/batch-files.ts";
import { type BatchResult, batchTable, batchTargets } from "../bench/batch-report.ts";
import { type BatchRunResult, type BatchSetup, runBatchOnce } from "../bench/batch-run.ts";
import { aria2List, BATCH_TOOLS, type BatchTool } from "../bench/batch-tools.ts";
import { type BenchFile, ensureFile } from "../bench/files.ts";
import { floorTargets } from "../bench/floor-targets.ts";
import { idealOf } from "../bench/ideal.ts";
import { countDlmRetries } from "../bench/limit-log.ts";
import { type LimitResult, limitTable, limitTargets, rateLabel } from "../bench/limit-report.ts";
import { type LimitRunResult, type LimitSetup, runLimitOnce } from "../bench/limit-run.ts";
import { LIMIT_TOOLS, type LimitTool } from "../bench/limit-tools.ts";
import { gnuTimeAvailable, measure } from "../bench/measure.ts";
import { parseAccessLog } from "../bench/nginx-log.ts";
import { type PacedConnection, type Pacer, startPacer } from "../bench/pacer.ts";
import { pickTools, planFor } from "../bench/plan.ts";
import { allOk, type ScenarioResult, scenarioTable, sizeLabel } from "../bench/report.ts";
import { type RunResult, type RunSetup, runOnce } from "../bench/run-once.ts";
import { batchScenarios, SCENARIO_IDS, type ScenarioId, scenarios } from "../bench/scenarios.ts";
import { targetsTable } from "../bench/targets.ts";
import { TOOLS, type Tool, toolInstalled } from "../bench/tools.ts";
import { bytesOf, sha256Of } from "./helpers/bytes.ts";
import { nginxAvailable } from "./helpers/nginx.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

const MIB = 2 ** 20;
const REPO = resolve(import.meta.dir, "..");

function conn(
  index: number,
  cap: number | undefined,
  bytes: number,
  from: number,
  to: number,
): PacedConnection {
  return { index, capBytesPerSec: cap, requests: 1, bytes, firstByteAt: from, lastByteAt: to, open: false };
}

// Not toMatchObject with expect.stringContaining: Bun 1.4.4 writes the matcher into the received object.
function failureOf(result: RunResult): string | undefined {
  return result.ok ? undefined : result.failure;
}

/** One request on a fresh connection (agent: false), so the pacer numbers it as a new one. */
function fetchFresh(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((done, fail) => {
    get(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", fail);
    }).on("error", fail);
  });
}

describe("parseBytes", () => {
  test.each([
    ["4096", 4096],
    ["8M", 8 * MIB],
    ["1G", 2 ** 30],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["16k", 16384],
  ])("%s is %d bytes", (input, bytes) => {
    expect(parseBytes("--size", input)).toBe(bytes);
  });
  test.each(["", "0", "-1M", "1X", "M"])("rejects %p", (input) => {
    expect(() => parseBytes("--size", input)).toThrow("--size");
  });
});

describe("command line", () => {
  test("--size takes a list, keeps its order and drops repeats", () => {
    expect(parseSizes("--size", "1G, 128M,1G")).toEqual([2 ** 30, 128 * MIB]);
    expect(() => parseSizes("--size", ",")).toThrow("--size");
    expect(() => parseSizes("--size", "128M,x")).toThrow('--size: expected a size like 8M or 1G, got "x"');
  });
  test("defaults: 16 MiB, 128 MiB and 1 GiB, 3 repetitions; --smoke: 1 MiB and 4 MiB, 1 repetition", () => {
    expect(parseBenchArgs([])).toMatchObject({
      sizes: [16 * MIB, 128 * MIB, 2 ** 30],
      reps: 3,
      smoke: false,
    });
    expect(parseBenchArgs(["--smoke"])).toMatchObject({ sizes: [MIB, 4 * MIB], reps: 1, smoke: true });
    expect(parseBenchArgs(["--smoke", "--size", "2M"])).toMatchObject({ sizes: [2 * MIB] });
  });
  test("sizes read as MiB or GiB in headings", () => {
    expect([sizeLabel(128 * MIB), sizeLabel(2 ** 30), sizeLabel(MIB + 7)]).toEqual([
      "128 MiB",
      "1 GiB",
      "1048583 B",
    ]);
  });
});

describe("plan", () => {
  const table = scenarios({ rateBytesPerSec: 16 * MIB, latencyMs: 50 });
  const options = (argv: string[]) => parseBenchArgs(argv) as BenchOptions;
  test("a full run: every size runs every scenario with the default tools", () => {
    const full = options([]);
    expect(planFor(1, full, table)).toEqual({ ids: [...SCENARIO_IDS], tools: undefined });
  });
  test("--smoke: everything at the first size, the 16-connection race on the paced links after", () => {
    const smoke = options(["--smoke"]);
    expect(planFor(0, smoke, table)).toEqual({ ids: [...SCENARIO_IDS], tools: undefined });
    expect(planFor(1, smoke, table)).toEqual({
      ids: ["throttled", "uneven", "latency"],
      tools: ["dlm16", "aria2c", "axel"],
    });
    expect(planFor(1, options(["--smoke", "--tools", "curl"]), table)).toEqual({ ids: [], tools: [] });
  });
  // The lists below name every anchor, so they hold only where all of them are installed (CI installs them).
  test.skipIf(TOOLS.some((t) => !toolInstalled(t)))(
    "single-connection tools sit out the capped links unless named",
    () => {
      const names = (id: ScenarioId, only?: string[]) =>
        pickTools(table[id], MIB, only).tools.map((t) => t.id);
      expect(names("throttled")).toEqual([
        "dlm16",
        "bun-ranged16",
        "aria2c",
        "axel",
        "dlm8",
        "bun-ranged8",
        "aria2c8",
        "axel8",
        "aria2c-sha",
      ]);
      expect(names("no-range")).toContain("curl");
      expect(names("throttled", ["curl"])).toEqual(["curl"]);
      // The compiled dlm's rows run beside dlm when the run built one.
      const withBinary = pickTools(table.throttled, MIB, ["dlm16", "dlmbin16"], "/tmp/dlm").tools;
      expect(withBinary.map((t) => t.id)).toEqual(["dlm16", "dlmbin16"]);
      const without = pickTools(table.throttled, MIB, ["dlm16", "dlmbin16"]);
      expect(without.tools.map((t) => t.id)).toEqual(["dlm16"]);
      expect(without.notes).toEqual([expect.stringContaining("dlm binary -c 16: not run")]);
    },
  );
});

describe("tools", () => {
  const input = {
    url: "http://127.0.0.1:1/f",
    out: "/tmp/x/out.bin",
    sha256: "0".repeat(64),
    bun: "bun",
    size: 1024,
    dlmBinary: "/tmp/x/dlm",
  };
  const argv = (id: string) => TOOLS.find((t) => t.id === id)?.argv(input) ?? [];
  test("the 8-connection anchors differ from the 16-connection ones only in the count", () => {
    expect(argv("aria2c8")).toEqual(
      argv("aria2c").map((a) => a.replace("-x16", "-x8").replace("-s16", "-s8")),
    );
    expect(argv("aria2c8")).toContain("-k1M");
    expect(argv("aria2c8")).toContain("--file-allocation=none");
    expect(argv("aria2c8")).toContain("--no-conf");
    expect(argv("axel8")).toEqual(argv("axel").map((a) => (a === "16" ? "8" : a)));
    expect(argv("axel8")).toContain("8");
  });
  test("equal-connection rows: dlm, aria2c and axel at 16 and at 8", () => {
    const byCount = (n: number) => TOOLS.filter((t) => t.connections === n).map((t) => t.label);
    expect(byCount(16)).toEqual([
      "dlm -c 16",
      "dlm binary -c 16",
      "bun floor-ranged.ts 16",
      "aria2c -x16 -s16",
      "axel -n 16",
      "aria2c -x16 -s16 --checksum",
    ]);
    expect(byCount(8)).toEqual([
      "dlm -c 8",
      "dlm binary -c 8",
      "bun floor-ranged.ts 8",
      "aria2c -x8 -s8",
      "axel -n 8",
    ]);
  });
});

describe("nginx access log", () => {
  test("sums body bytes and finds when the first request that got body arrived", () => {
    const log = [
      "1700000000.500 0.000 206 0", // no body: not a first byte
      "1700000001.250 0.750 206 1", // arrived at .500
      "1700000002.000 0.400 206 1048576", // arrived at 1.600
      "garbage",
    ].join("\n");
    expect(parseAccessLog(log)).toEqual({ bytes: 1048577, firstBodyRequestAtEpochMs: 1700000000500 });
    expect(parseAccessLog("")).toEqual({ bytes: 0, firstBodyRequestAtEpochMs: undefined });
  });
});

describe("idealOf", () => {
  const cap = 16 * MIB;
  const size = 64 * MIB;
  test("eight parallel capped connections: size / (8 x cap)", () => {
    const conns = Array.from({ length: 8 }, (_, i) => conn(i + 1, cap, 8 * MIB, 0, 500));
    expect(idealOf(conns, size, 0)).toEqual({
      capSumBytesPerSec: 8 * cap,
      connections: 8,
      slowConnections: 0,
      seconds: 0.5,
    });
  });
  test("a slow connection counts with its own cap, latency is added once", () => {
    const conns = [
      conn(1, cap, 40 * MIB, 0, 100),
      conn(2, cap, 20 * MIB, 0, 100),
      conn(3, cap / 8, 4 * MIB, 0, 100),
    ];
    const ideal = idealOf(conns, size, 50);
    expect(ideal?.capSumBytesPerSec).toBe(2.125 * cap);
    expect(ideal?.slowConnections).toBe(1);
    expect(ideal?.seconds).toBeCloseTo(0.05 + size / (2.125 * cap), 9);
  });
  test("a probe under 1% of the file and a connection that takes over another do not raise the peak", () => {
    const conns = [
      conn(1, cap, 1024, 0, 50), // probe, overlaps everything
      conn(2, cap, 32 * MIB, 0, 100),
      conn(3, cap, 16 * MIB, 0, 100),
      conn(4, cap, 16 * MIB, 100, 200), // starts exactly when 3 ends
    ];
    expect(idealOf(conns, size, 0)?.connections).toBe(2);
  });
  test("undefined when uncapped or nothing was served", () => {
    expect(idealOf([conn(1, undefined, size, 0, 10)], size, 0)).toBeUndefined();
    expect(idealOf([], size, 0)).toBeUndefined();
  });
});

describe("pacer", () => {
  let origin: Origin;
  let pacer: Pacer;
  beforeAll(async () => {
    origin = await startOrigin();
    origin.serve("/f", { size: 2 * MIB });
    pacer = await startPacer(`http://127.0.0.1:${origin.port}`);
  });
  afterAll(async () => {
    await pacer.close();
    await origin.close();
  });

  test("caps each connection and counts the bytes it served", async () => {
    pacer.configure({ rateBytesPerSec: 8 * MIB });
    const conns = pacer.reset();
    const started = performance.now();
    const res = await fetchFresh(pacer.url("/f"));
    const seconds = (performance.now() - started) / 1000;
    expect(res.status).toBe(200);
    expect(res.body.equals(Buffer.from(bytesOf(0, 2 * MIB - 1)))).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(0.24); // 2 MiB at 8 MiB/s, minus timer slack
    expect(conns.map((c) => c.bytes)).toEqual([2 * MIB]);
    // First byte is when the body started on its way, so first → last spans the body at the cap (the token
    // clock may start up to 50 ms behind, which is the slack here), not the body minus one pacing slice.
    const [c] = conns;
    const carrying = (c?.lastByteAt ?? 0) - (c?.firstByteAt ?? 0);
    expect(carrying).toBeGreaterThanOrEqual(190);
    expect(carrying).toBeLessThanOrEqual(seconds * 1000);
  });

  test("uneven: every 4th accepted connection gets cap / 8", async () => {
    pacer.configure({ rateBytesPerSec: 64 * MIB, slowEvery: 4, slowFactor: 8 });
    const conns = pacer.reset();
    for (let i = 0; i < 5; i++) await fetchFresh(pacer.url("/f"), { Range: "bytes=0-1023" });
    expect(conns.map((c) => c.capBytesPerSec)).toEqual([64, 64, 64, 8, 64].map((m) => m * MIB));
  });

  test("ignore-range answers 200 with the whole body and no Accept-Ranges", async () => {
    pacer.configure({ ignoreRange: true });
    const conns = pacer.reset();
    const res = await fetchFresh(pacer.url("/f"), { Range: "bytes=100-199" });
    expect(res.status).toBe(200);
    expect(res.headers["accept-ranges"]).toBeUndefined();
    expect(res.headers["content-length"]).toBe(String(2 * MIB));
    expect(res.body.length).toBe(2 * MIB);
    expect(origin.stats.requests.at(-1)?.range).toBeUndefined();
    expect(conns[0]?.bytes).toBe(2 * MIB);
  });

  test("latency delays every response", async () => {
    pacer.configure({ latencyMs: 120 });
    pacer.reset();
    const started = performance.now();
    const res = await fetchFresh(pacer.url("/f"), { Range: "bytes=0-9" });
    expect(res.status).toBe(206);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });
});

describe("measure", () => {
  // A child that allocates and touches ~64 MiB and burns some CPU, so both meters have something to see.
  const work =
    "const b=new Uint8Array(64<<20).fill(1);let x=0;for(let i=0;i<3e7;i++)x+=i;console.log(b[5]+x%2)";
  test.each(["gnu-time", "rusage"] as const)("%s reports CPU and peak RSS of the child", async (meter) => {
    if (meter === "gnu-time" && !gnuTimeAvailable()) return; // no /usr/bin/time here: the fallback is the meter
    const scratch = join(tmpdir(), `dlm-bench-measure-${process.pid}-${meter}`);
    const m = await measure([process.execPath, "-e", work], REPO, 20_000, scratch, meter);
    expect(m).toMatchObject({ exitCode: 0, timedOut: false, meter, stdout: "1\n" });
    expect(m.cpuSeconds).toBeGreaterThan(0.01);
    expect(m.peakRssBytes).toBeGreaterThan(64 * MIB);
    expect(m.peakRssBytes).toBeLessThan(1024 * MIB);
  });
});

describe("runOnce and the report", () => {
  let dir: string;
  let file: BenchFile;
  let origin: Origin;
  let pacer: Pacer;
  let setup: RunSetup;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dlm-bench-test-"));
    file = await ensureFile(dir, MIB + 7);
    origin = await startOrigin();
    pacer = await startPacer(`http://127.0.0.1:${origin.port}`);
    const scenario = scenarios({ rateBytesPerSec: 16 * MIB, latencyMs: 0 })["no-range"];
    const base = { scenario, file, url: "unused", out: join(dir, "out.bin"), repo: REPO, pacer };
    setup = { ...base, accessLog: undefined, timeoutMs: 10_000 };
  });
  afterAll(async () => {
    await pacer.close();
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  });
  const fake = (id: string, argv: (out: string) => string[]): Tool => ({
    id,
    label: id,
    bin: undefined,
    connections: 1,
    selfVerifies: false,
    argv: ({ out }) => argv(out),
  });

  test("the cached file has the content and digest of test/helpers/bytes.ts", () => {
    expect(file.sha256).toBe(sha256Of(MIB + 7));
  });

  test("a correct output is a time; a wrong, short or failed one is a FAIL", async () => {
    const good = await runOnce(
      fake("copy", (out) => ["cp", file.path, out]),
      setup,
    );
    expect(good.ok).toBe(true);
    if (good.ok) expect(good.verifiedSeconds).toBeCloseTo(good.wallSeconds + good.hashSeconds, 9);
    const flip = `import{readFileSync as r,writeFileSync as w}from"fs";const b=r(process.argv[1]);b[5]^=1;w(process.argv[2],b)`;
    const wrong = await runOnce(
      fake("flip", (out) => [process.execPath, "-e", flip, file.path, out]),
      setup,
    );
    expect(failureOf(wrong)).toContain("sha256 mismatch");
    const short = await runOnce(
      fake("short", (out) => ["sh", "-c", `head -c 100 "$0" > "$1"`, file.path, out]),
      setup,
    );
    expect(failureOf(short)).toContain("output has 100 bytes");
    const exit = await runOnce(
      fake("false", () => ["false"]),
      setup,
    );
    expect(failureOf(exit)).toBe("exit 1");
    const slow = await runOnce(
      fake("sleep", () => ["sleep", "30"]),
      { ...setup, timeoutMs: 1000 },
    );
    expect(failureOf(slow)).toContain("timed out after 1 s");

    const result = {
      scenario: setup.scenario,
      sizeBytes: file.size,
      rows: [
        { tool: fake("copy", () => []), runs: [good] },
        { tool: fake("flip", () => []), runs: [good, wrong] },
      ],
      notes: [],
    };
    const table = scenarioTable(result);
    expect(allOk(result)).toBe(false);
    const flipRow = table.split("\n").find((l) => l.startsWith("| flip |"));
    expect(flipRow).toContain("**FAIL** (1/2): sha256 mismatch");
    expect(flipRow).not.toMatch(/\| \d+\.\d\d \|/);
    expect(table.split("\n").find((l) => l.startsWith("| copy |"))).toMatch(/^\| copy \| \d+\.\d\d \|/);
  }, 30_000);

  test.each([false, true])(
    "the Bun floor script writes the file right over 4 connections (server ignores Range: %p)",
    async (ignoreRange) => {
      pacer.configure(ignoreRange ? { ignoreRange: true } : {});
      origin.serve("/floor", { size: file.size });
      const floor = TOOLS.find((t) => t.id === "bun-ranged8") as Tool;
      const four: Tool = { ...floor, argv: (input) => [...floor.argv(input).slice(0, -1), "4"] };
      const result = await runOnce(four, { ...setup, url: pacer.url("/floor") });
      expect(failureOf(result)).toBeUndefined();
    },
    30_000,
  );

  test("first byte: from spawn to the pacer sending the first body byte, within the wall time", async () => {
    pacer.configure({ ignoreRange: true });
    origin.serve("/first", { size: file.size });
    const script = "await Bun.sleep(150);await Bun.write(process.argv[2],await fetch(process.argv[1]))";
    const result = await runOnce(
      fake("late-fetch", (out) => [process.execPath, "-e", script, pacer.url("/first"), out]),
      setup,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.firstByteSeconds).toBeGreaterThanOrEqual(0.15); // the tool waited 150 ms before its request
    expect(result.firstByteSeconds).toBeLessThan(result.wallSeconds);
    const table = scenarioTable({
      scenario: setup.scenario,
      sizeBytes: file.size,
      rows: [{ tool: fake("late-fetch", () => []), runs: [result] }],
      notes: [],
    });
    const header = table.split("\n")[2]?.split(" | ") ?? [];
    const row = table.split("\n")[4]?.split(" | ") ?? [];
    expect(row[header.indexOf("first byte s")]).toBe(result.firstByteSeconds?.toFixed(3));
    expect(table).toStartWith(`### no-range, ${file.size} B: `);
  }, 30_000);
});

describe("floor targets", () => {
  const run = (wall: number, rssMiB: number): RunResult => ({
    ok: true,
    wallSeconds: wall,
    hashSeconds: 0,
    verifiedSeconds: wall,
    cpuSeconds: 0,
    peakRssBytes: rssMiB * MIB,
    servedBytes: 0,
    ideal: undefined,
    firstByteSeconds: 0.1,
    lastByteToVerifiedSeconds: 0,
  });
  const link = scenarios({ rateBytesPerSec: 16 * MIB, latencyMs: 50 });
  const result = (id: ScenarioId, rows: Record<string, [number, number] | "FAIL">): ScenarioResult => ({
    scenario: link[id],
    sizeBytes: 2 ** 30,
    rows: Object.entries(rows).map(([toolId, figures]) => ({
      tool: TOOLS.find((t) => t.id === toolId) as Tool,
      runs: figures === "FAIL" ? [{ ok: false, failure: "exit 1" }] : [run(...figures)],
    })),
    notes: [],
  });
  const lines = (table: string | undefined) =>
    table?.split("\n").filter((l) => l.startsWith("| unthr") || l.startsWith("| thr"));

  test("dlm against wget2 and the Bun ranged script's RSS unthrottled, -c 16 against -c 8 when capped", () => {
    const table = floorTargets(
      [
        result("unthrottled", { dlm16: [1.4, 120], "bun-ranged16": [0.9, 80], wget2: [1.2, 20] }),
        result("throttled", { dlm16: [2.1, 90], dlm8: [2, 90] }),
      ],
      [],
    );
    expect(lines(table)).toEqual([
      "| unthrottled 1 GiB | dlm -c 16 / wget2 wall ≤ 1.3 | ✓ 1.17 |",
      "| unthrottled 1 GiB | dlm -c 16 / bun floor-ranged.ts 16 peak RSS ≤ 1.25 | ✗ 1.50 |",
      "| throttled 1 GiB | dlm -c 16 / dlm -c 8 wall ≤ 1.05 | ✓ 1.05 |",
    ]);
    // The binary's rows and the batch ones are left out when they did not run; a failed dlm is a ✗.
    const failed = floorTargets([result("unthrottled", { dlm16: "FAIL", wget2: [1, 1] })], []);
    expect(failed).toContain("| dlm -c 16 / wget2 wall ≤ 1.3 | ✗ FAIL |");
    expect(floorTargets([result("unthrottled", { dlm16: [1, 1] })], [])).toBeUndefined();
  });
});

describe("targets table", () => {
  const tool = (id: string) => TOOLS.find((t) => t.id === id) as Tool;
  const run = (wall: number, ideal: number): RunResult => ({
    ok: true,
    wallSeconds: wall,
    hashSeconds: 0,
    verifiedSeconds: wall,
    cpuSeconds: 0,
    peakRssBytes: 0,
    servedBytes: 0,
    ideal: { capSumBytesPerSec: 1, connections: 16, slowConnections: 4, seconds: ideal },
    firstByteSeconds: 0.1,
    lastByteToVerifiedSeconds: 0,
  });
  const link = scenarios({ rateBytesPerSec: 16 * MIB, latencyMs: 50 });
  const result = (id: ScenarioId, walls: Record<string, number | "FAIL">): ScenarioResult => ({
    scenario: link[id],
    sizeBytes: 128 * MIB,
    rows: Object.entries(walls).map(([toolId, wall]) => ({
      tool: tool(toolId),
      runs: wall === "FAIL" ? [{ ok: false, failure: "exit 1" }] : [run(wall, 1)],
    })),
    notes: [],
  });
  const cellsOf = (table: string, link: string) =>
    table
      .split("\n")
      .find((l) => l.startsWith(`| 128 MiB | ${link} |`))
      ?.split(" | ")
      .slice(2);

  test("× ideal per tool, then the two dlm -c 16 targets and the race at 8", () => {
    const table = targetsTable([
      result("unthrottled", { dlm16: 1, aria2c: 1, axel: 1 }),
      result("throttled", { dlm16: 1.05, aria2c: 1.2, axel: 1.1, dlm8: 1.3, aria2c8: 1.2, axel8: 1.25 }),
      result("uneven", { dlm16: 1.5, aria2c: 1.6, axel: 1.2 }),
      result("latency", { dlm16: 1.08, aria2c: "FAIL", axel: 1.0 }),
    ]);
    expect(table).toBeDefined();
    expect(table).not.toContain("unthrottled"); // no cap, no ideal: not a paced link
    expect(cellsOf(table ?? "", "throttled")).toEqual([
      "1.05",
      "1.20",
      "1.10",
      "1.30",
      "1.20",
      "1.25",
      "✓ 0.95",
      "✓ 1.05",
      "✗ 1.08 |",
    ]);
    expect(cellsOf(table ?? "", "uneven")).toEqual([
      "1.50",
      "1.60",
      "1.20",
      "—",
      "—",
      "—",
      "✗ 1.25",
      "✗ 1.50",
      "— |",
    ]);
    // A failed anchor is no yardstick: the race is not judged, the ideal bound still is.
    expect(cellsOf(table ?? "", "latency")).toEqual([
      "1.08",
      "FAIL",
      "1.00",
      "—",
      "—",
      "—",
      "—",
      "✓ 1.08",
      "— |",
    ]);
  });

  test("a failed dlm fails both targets; no paced scenario, no table", () => {
    const table = targetsTable([result("throttled", { dlm16: "FAIL", aria2c: 1, axel: 1 })]);
    expect(cellsOf(table ?? "", "throttled")?.slice(6)).toEqual(["✗ FAIL", "✗ FAIL", "— |"]);
    expect(targetsTable([result("no-range", { dlm16: 1 })])).toBeUndefined();
  });
});

describe.skipIf(!nginxAvailable() || Bun.which("curl") === null)("bench/run.ts end to end", () => {
  test("two sizes, two scenarios with curl: exit 0, a table per size and scenario, first byte from both servers", async () => {
    const results = await mkdtemp(join(tmpdir(), "dlm-bench-results-"));
    try {
      const args = [
        "--size",
        "1M,2M",
        "--reps",
        "1",
        "--scenarios",
        "unthrottled,no-range",
        "--tools",
        "curl",
        "--results",
        results,
      ];
      const proc = Bun.spawn([process.execPath, "bench/run.ts", ...args], {
        cwd: REPO,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
      expect(stdout).toMatch(/\| curl \| \d+\.\d\d \|.*\| 1\.000 \| no \|/);
      const [name] = await readdir(results);
      const report = await readFile(join(results, name ?? "missing"), "utf8");
      expect(report).toMatch(/- Bun start-up: `bun -e 0` takes \d\.\d{3} s/);
      for (const heading of [
        "## 1 MiB",
        "### unthrottled, 1 MiB",
        "### no-range, 1 MiB",
        "## 2 MiB",
        "### no-range, 2 MiB",
      ])
        expect(report).toContain(heading);
      // first byte s is column 8: nginx's log gives it for unthrottled, the pacer for no-range.
      const curlRows = report.split("\n").filter((l) => l.startsWith("| curl |"));
      expect(curlRows).toHaveLength(4);
      for (const row of curlRows) expect(row.split(" | ")[7]).toMatch(/^0\.\d{3}$/);
    } finally {
      await rm(results, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("batch", () => {
  test("command line: 200 x 1 MiB by default, 10 x 64 KiB with --smoke; --scenarios splits the two kinds", () => {
    expect(parseBenchArgs([])).toMatchObject({
      batchScenarios: ["batch", "batch-latency"],
      batchFiles: 200,
      batchSize: MIB,
    });
    expect(parseBenchArgs(["--smoke"])).toMatchObject({ batchFiles: 10, batchSize: 64 * 1024 });
    expect(parseBenchArgs(["--scenarios", "batch-latency,throttled"])).toMatchObject({
      scenarios: ["throttled"],
      batchScenarios: ["batch-latency"],
    });
    expect(parseBenchArgs(["--tools", "dlm-batch,curl"])?.tools).toEqual(["dlm-batch", "curl"]);
    expect(() => parseBenchArgs(["--batch-files", "0"])).toThrow("--batch-files");
    expect(() => parseBenchArgs(["--scenarios", "batches"])).toThrow('--scenarios: unknown "batches"');
  });

  test("dlm and aria2c read the same list: a URL line, then an indented out=NAME", async () => {
    const files = [
      { url: "http://127.0.0.1:1/batch/f-000.bin", name: "f-000.bin" },
      { url: "http://127.0.0.1:1/batch/f-001.bin", name: "f-001.bin" },
    ];
    expect(aria2List(files)).toBe(
      "http://127.0.0.1:1/batch/f-000.bin\n  out=f-000.bin\nhttp://127.0.0.1:1/batch/f-001.bin\n  out=f-001.bin\n",
    );
    const listDir = await mkdtemp(join(tmpdir(), "dlm-bench-lists-"));
    try {
      const input = { files, dir: "/out", listDir, bun: "bun", repo: "/repo" };
      const argvOf = async (id: string) => BATCH_TOOLS.find((t) => t.id === id)?.prepare(input);
      expect(await argvOf("dlm-batch")).toEqual([
        "bun",
        "/repo/src/main.ts",
        "get",
        "-i",
        join(listDir, "dlm.list"),
        "-j",
        "8",
        "-c",
        "1",
        "--quiet",
      ]);
      expect(await readFile(join(listDir, "dlm.list"), "utf8")).toBe(aria2List(files));
      expect(await argvOf("aria2c-batch")).toContain("-j8");
      expect(await argvOf("wget2-batch")).toContain("--max-threads=8");
      expect(await readFile(join(listDir, "wget2.list"), "utf8")).toBe(
        `${files[0]?.url}\n${files[1]?.url}\n`,
      );
      expect(await argvOf("curl-batch")).toEqual(
        expect.arrayContaining(["-Z", "--parallel-max", "8", files[1]?.url]),
      );
    } finally {
      await rm(listDir, { recursive: true, force: true });
    }
    const dlm = BATCH_TOOLS.find((t) => t.id === "dlm-batch");
    const line = `/out/f-001.bin  1048576 bytes  sha256 ${"ab".repeat(32)}  0.07s  14.3 MiB/s`;
    expect(dlm?.reportedSha256?.(`${line}\n`)).toEqual(new Map([["f-001.bin", "ab".repeat(32)]]));
  });

  describe("runBatchOnce and the batch report", () => {
    let cache: string;
    let work: string;
    let origin: Origin;
    let pacer: Pacer;
    let setup: BatchSetup;
    beforeAll(async () => {
      cache = await mkdtemp(join(tmpdir(), "dlm-bench-batch-"));
      work = await mkdtemp(join(tmpdir(), "dlm-bench-batch-out-"));
      origin = await startOrigin();
      pacer = await startPacer(`http://127.0.0.1:${origin.port}`);
      const set = await ensureBatchSet(cache, 3, 4096);
      setup = {
        scenario: batchScenarios(0)["batch-latency"],
        set,
        baseUrl: pacer.url("batch/"),
        dir: join(work, "out"),
        listDir: work,
        repo: REPO,
        pacer,
        accessLog: undefined,
        timeoutMs: 10_000,
      };
    });
    afterAll(async () => {
      await pacer.close();
      await origin.close();
      await rm(cache, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    });
    // A "downloader" that copies the served files into the output directory, optionally spoiling one.
    const copier = (id: string, spoil?: string): BatchTool => ({
      id,
      label: id,
      bin: undefined,
      selfVerifies: false,
      prepare: async ({ files, dir }) => {
        for (const f of files) await copyFile(join(setup.set.dir, f.name), join(dir, f.name));
        if (spoil !== undefined) await writeFile(join(dir, spoil), new Uint8Array(4096));
        return ["true"];
      },
    });

    test("the set: file i has the content of seed i, and a second call reuses it", async () => {
      const { set } = setup;
      expect(set.members.map((m) => m.name)).toEqual(["f-000.bin", "f-001.bin", "f-002.bin"]);
      expect(set.members.map((m) => m.sha256)).toEqual([0, 1, 2].map((seed) => sha256Of(4096, seed)));
      const before = (await stat(join(set.dir, "f-000.bin"))).mtimeMs;
      expect(await ensureBatchSet(cache, 3, 4096)).toEqual(set);
      expect((await stat(join(set.dir, "f-000.bin"))).mtimeMs).toBe(before);
    });

    test("the Bun floor batch script fetches every file of the list right", async () => {
      for (const [seed, member] of setup.set.members.entries())
        origin.serve(`/batch/${member.name}`, { size: 4096, seed });
      const floor = BATCH_TOOLS.find((t) => t.id === "bun-batch") as BatchTool;
      const result = await runBatchOnce(floor, setup);
      expect(result.ok ? undefined : result.failure).toBeUndefined();
      if (result.ok) expect(result.requests).toBe(3);
    }, 30_000);

    test("every file right is a time; one wrong or missing file is a FAIL, and dlm's race is judged", async () => {
      const good = await runBatchOnce(copier("copy"), setup);
      expect(good.ok).toBe(true);
      if (good.ok) expect(good.verifiedSeconds).toBeCloseTo(good.wallSeconds + good.hashSeconds, 9);
      const spoiled = await runBatchOnce(copier("spoil", "f-001.bin"), setup);
      expect(spoiled).toEqual({ ok: false, failure: "1 of 3 files wrong (f-001.bin: sha256 mismatch)" });
      const none = await runBatchOnce({ ...copier("none"), prepare: async () => ["true"] }, setup);
      expect(none).toEqual({ ok: false, failure: "3 of 3 files wrong (f-000.bin: missing)" });
      expect(await readdir(work)).not.toContain("out"); // emptied after each run

      const tool = (id: string) => BATCH_TOOLS.find((t) => t.id === id) as BatchTool;
      const timed = (wall: number): BatchRunResult => (good.ok ? { ...good, wallSeconds: wall } : good);
      const result = (walls: Record<string, number | "FAIL">): BatchResult => ({
        scenario: setup.scenario,
        count: 3,
        size: 4096,
        rows: Object.entries(walls).map(([id, wall]) => ({
          tool: tool(id),
          runs: [wall === "FAIL" ? spoiled : timed(wall)],
        })),
        notes: [],
      });
      const table = batchTable(result({ "dlm-batch": 2, "aria2c-batch": "FAIL", "curl-batch": 1 }));
      expect(table).toStartWith("### batch-latency, 3 × 4 KiB: ");
      expect(table).toContain("| dlm get -i LIST -j 8 -c 1 | 2.00 | 2 | 0 | 2.00 |");
      expect(table).toContain("| aria2c -j 8 -x1 -i LIST | **FAIL** (1/1): 1 of 3 files wrong");
      const verdict = (walls: Record<string, number | "FAIL">) =>
        batchTargets([result(walls)])
          ?.split("\n")[4]
          ?.split(" | ")
          .at(-1);
      expect(verdict({ "dlm-batch": 2, "wget2-batch": 1, "curl-batch": 4 })).toBe("✗ 2.00 |");
      expect(verdict({ "dlm-batch": 1, "wget2-batch": 2, "curl-batch": 4 })).toBe("✓ 0.50 |");
      expect(verdict({ "dlm-batch": 1, "aria2c-batch": "FAIL", "curl-batch": 4 })).toBe("— |");
      expect(verdict({ "dlm-batch": "FAIL", "curl-batch": 4 })).toBe("✗ FAIL |");
    }, 30_000);
  });
});

describe("limit", () => {
  const limitTool = (id: string) => LIMIT_TOOLS.find((t) => t.id === id) as LimitTool;

  test("command line: 4 MiB/s and 512 KiB/s over 10 s by default; --smoke: 4 MiB/s for a quarter second", () => {
    expect(parseBenchArgs([])).toMatchObject({ limitRates: [4 * MIB, 512 * 1024], limitSeconds: 10 });
    expect(parseBenchArgs(["--smoke"])).toMatchObject({ limitRates: [4 * MIB], limitSeconds: 0.25 });
    expect(parseBenchArgs(["--scenarios", "throttled"])?.limitRates).toEqual([]);
    expect(
      parseBenchArgs(["--scenarios", "limit", "--limit-rates", "1M", "--limit-seconds", "2.5"]),
    ).toMatchObject({ scenarios: [], batchScenarios: [], limitRates: [MIB], limitSeconds: 2.5 });
    expect(() => parseBenchArgs(["--limit-seconds", "0"])).toThrow(
      "--limit-seconds: expected seconds above 0",
    );
    expect(parseBenchArgs(["--tools", "dlm-limit,curl-limit"])?.tools).toEqual(["dlm-limit", "curl-limit"]);
  });

  test("every tool gets the limit as a plain byte count at its own flag; dlm logs its workers as JSON", () => {
    const input = {
      url: "http://127.0.0.1:1/f",
      out: "/o/out.bin",
      sha256: "",
      bun: "bun",
      size: 5242880,
      limitBytesPerSec: 524288,
      stallTimeoutMs: 2000,
    };
    const argv = (id: string) => limitTool(id).argv(input);
    expect(argv("dlm-limit")).toEqual([
      "env",
      "DLM_LOG=worker=info",
      "DLM_LOG_FORMAT=json",
      "bun",
      "src/main.ts",
      "get",
      input.url,
      "-o",
      input.out,
      "-c",
      "4",
      "--limit",
      "524288",
      "--stall-timeout",
      "2000ms",
      "--quiet",
      "--force",
    ]);
    expect(argv("dlm-limit-c1").slice(9, 11)).toEqual(["-c", "1"]);
    expect(argv("aria2c-limit")).toEqual(
      expect.arrayContaining(["-x4", "-s4", "--max-download-limit=524288"]),
    );
    expect(argv("curl-limit")).toEqual(expect.arrayContaining(["--limit-rate", "524288"]));
    expect(argv("wget2-limit")).toContain("--limit-rate=524288");
  });

  test("dlm's retries are counted from its worker log: stalls apart from other retries and slow restarts", () => {
    const line = (logger: string, message: string, properties: Record<string, unknown>) =>
      JSON.stringify({ "@timestamp": "t", level: "INFO", message, logger, properties });
    const stderr = [
      line("dlm.worker", "retrying 1 after ...", {
        segment: 1,
        failure: "stalled: no bytes within the stall timeout",
      }),
      line("dlm.worker", "retrying 2 after ...", { segment: 2, failure: "HTTP 503" }),
      line("dlm.worker", "restarting slow connection of 3", { segment: 3 }),
      line("dlm.engine", "retrying 1 after ...", { failure: "stalled: no bytes within the stall timeout" }),
      "TypeError: not a log line",
      "{ not json",
    ].join("\n");
    expect(countDlmRetries(stderr)).toEqual({ stalls: 1, others: 2 });
    expect(countDlmRetries("")).toEqual({ stalls: 0, others: 0 });
  });

  describe("runLimitOnce against a real dlm", () => {
    let dir: string;
    let origin: Origin;
    let pacer: Pacer;
    let setup: LimitSetup;
    const size = 256 * 1024;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "dlm-bench-limit-"));
      origin = await startOrigin();
      pacer = await startPacer(`http://127.0.0.1:${origin.port}`);
      pacer.configure({ rateBytesPerSec: 16 * MIB });
      setup = {
        file: { path: "unused", size, sha256: sha256Of(size) },
        url: pacer.url("/limited"),
        out: join(dir, "out.bin"),
        repo: REPO,
        pacer,
        timeoutMs: 20_000,
        limitBytesPerSec: MIB,
        stallTimeoutMs: 300,
      };
    });
    afterAll(async () => {
      await pacer.close();
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    });

    test("a clean run: right file, rate from first byte to exit, no retries", async () => {
      origin.serve("/limited", { size });
      const result = await runLimitOnce(limitTool("dlm-limit-c1"), setup);
      if (!result.ok) throw new Error(result.failure);
      expect(result.retries).toEqual({ stalls: 0, others: 0 });
      expect(result.requests).toBe(1); // -c 1: the probe asks for the whole file, and its answer is the download
      expect(result.firstByteSeconds).toBeLessThan(result.wallSeconds);
      expect(result.achievedBytesPerSec).toBeCloseTo(
        size / (result.wallSeconds - (result.firstByteSeconds ?? 0)),
        6,
      );
    }, 30_000);

    test("a connection that goes silent past the stall timeout shows as one stall retry", async () => {
      origin.serve("/limited", { size, stallAfterBytes: 64 * 1024, stallTimes: 1 });
      const result = await runLimitOnce(limitTool("dlm-limit-c1"), setup);
      if (!result.ok) throw new Error(result.failure);
      expect(result.retries).toEqual({ stalls: 1, others: 0 });
    }, 30_000);
  });

  describe("the limit report", () => {
    const run = (achieved: number, stalls?: number): LimitRunResult => ({
      ok: true,
      wallSeconds: 10.5,
      hashSeconds: 0,
      verifiedSeconds: 10.5,
      cpuSeconds: 1,
      peakRssBytes: 50 * MIB,
      servedBytes: 40 * MIB,
      firstByteSeconds: 0.3,
      achievedBytesPerSec: achieved,
      connections: 4,
      requests: 5,
      retries: stalls === undefined ? undefined : { stalls, others: 0 },
    });
    const result = (seconds: number, rows: [string, LimitRunResult[]][]): LimitResult => ({
      limitBytesPerSec: 4 * MIB,
      sizeBytes: 40 * MIB,
      seconds,
      capBytesPerSec: 16 * MIB,
      rows: rows.map(([id, runs]) => ({ tool: limitTool(id), runs })),
      notes: [],
    });
    const verdicts = (table: string | undefined) =>
      (table ?? "")
        .split("\n")
        .filter((l) => l.startsWith("| limit 4 MiB/s"))
        .map((l) => l.split(" | ").slice(1));

    test("dlm is judged on its worst repetition and its stall retries; the others in parentheses", () => {
      const table = limitTargets([
        result(10, [
          ["dlm-limit", [run(4.1 * MIB, 0), run(3.9 * MIB, 0), run(4.19 * MIB, 0)]],
          ["dlm-limit-c1", [run(4 * MIB, 0), run(4 * MIB, 1)]],
          ["aria2c-limit", [run(4.4 * MIB)]],
          ["curl-limit", [{ ok: false, failure: "exit 7" }]],
        ]),
      ]);
      expect(verdicts(table)).toEqual([
        ["dlm get --limit RATE -c 4", "1.025", "+4.8%", "0", "✓ |"],
        ["dlm get --limit RATE -c 1", "1.000", "+0.0%", "1", "✗ 1 stall retries |"],
        ["aria2c --max-download-limit=RATE -x4 -s4", "1.100", "+10.0%", "—", "(✗ worst rep +10.0%) |"],
        ["curl --limit-rate RATE", "—", "—", "—", "(✗ FAIL) |"],
      ]);
    });

    test("runs shorter than 10 s are not judged; the table shows rate, ratio and worst repetition", () => {
      const short = result(0.25, [["dlm-limit", [run(6 * MIB, 0), run(2 * MIB, 0), run(5 * MIB, 0)]]]);
      expect(verdicts(limitTargets([short]))).toEqual([
        ["dlm get --limit RATE -c 4", "1.250", "+50.0%", "0", "— |"],
      ]);
      const table = limitTable(short);
      expect(table).toStartWith(
        "### limit 4 MiB/s, 40 MiB (~0.25 s): through the pacer, each connection capped at 16 MiB/s",
      );
      expect(table).toContain(
        "| dlm get --limit RATE -c 4 | 10.50 | 0.300 | 5 MiB/s | 1.250 (+25.0%) | +50.0% | 4 | 5 | 1.000 | 0 | 0 |",
      );
      expect([rateLabel(512 * 1024), rateLabel(4 * MIB), rateLabel(3.98 * MIB)]).toEqual([
        "512 KiB/s",
        "4 MiB/s",
        "3.98 MiB/s",
      ]);
      expect(limitTargets([])).toBeUndefined();
    });
  });
});
