import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseBytes } from "../bench/args.ts";
import { type BenchFile, ensureFile } from "../bench/files.ts";
import { idealOf } from "../bench/ideal.ts";
import { gnuTimeAvailable, measure } from "../bench/measure.ts";
import { type PacedConnection, type Pacer, startPacer } from "../bench/pacer.ts";
import { allOk, scenarioTable } from "../bench/report.ts";
import { type RunResult, type RunSetup, runOnce } from "../bench/run-once.ts";
import { scenarios } from "../bench/scenarios.ts";
import type { Tool } from "../bench/tools.ts";
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
});

describe.skipIf(!nginxAvailable() || Bun.which("curl") === null)("bench/run.ts end to end", () => {
  test("a one-scenario smoke with curl exits 0 and writes its table", async () => {
    const results = await mkdtemp(join(tmpdir(), "dlm-bench-results-"));
    try {
      const args = [
        "--smoke",
        "--size",
        "1M",
        "--scenarios",
        "no-range",
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
      expect(await readFile(join(results, name ?? "missing"), "utf8")).toContain("### no-range");
    } finally {
      await rm(results, { recursive: true, force: true });
    }
  }, 60_000);
});
