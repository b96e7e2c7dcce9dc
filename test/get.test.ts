import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "hash-wasm";
import { PROBE_FIRST_BYTES } from "../src/engine/prepare.ts";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { jsonLines, listDir, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, type OriginFile, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
const dirs = tempDirs();
const freshDir = dirs.fresh;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** The Range headers of GETs the origin saw for `path`, without a `bytes=0-0` probe (a resume's). */
function segmentRanges(path: string): string[] {
  return origin.stats.requests
    .filter((r) => r.path === path && r.range !== undefined && r.range !== "bytes=0-0")
    .map((r) => r.range ?? "");
}

/** Serves `file` at `path`, runs `dlm get URL ...args` in a fresh dir, and checks it exited OK. */
async function download(path: string, file: OriginFile, args: string[] = []) {
  const url = origin.serve(path, file);
  const cwd = await freshDir();
  const run = await runDlm(["get", url, ...args], { cwd });
  expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
  return { url, cwd, run };
}

/** Runs with --json and returns the start and result records (asserting the last line is the result). */
function records(stdout: string): { start: Record<string, unknown>; result: Record<string, unknown> } {
  const lines = jsonLines(stdout);
  const start = lines[0];
  const result = lines.at(-1);
  expect(start?.["type"]).toBe("start");
  expect(result?.["type"]).toBe("result");
  return { start: start ?? {}, result: result ?? {} };
}

describe("dlm get: whole files", () => {
  test("-c 1 fetches the file over one connection, in file order", async () => {
    const size = 3 * 1024 * 1024 + 17;
    const args = ["-c", "1", "--min-split", "1K", "--json"];
    const { cwd, run } = await download("/one-conn.bin", { size, seed: 7 }, args);
    expect(sha256Hex(await readFile(join(cwd, "one-conn.bin")))).toBe(sha256Of(size, 7));
    const { start, result } = records(run.stdout);
    expect(start["connections"]).toBe(1);
    expect(result["sha256"]).toBe(sha256Of(size, 7));
    // One connection, one request: the probe asks for the whole file and its answer is the download.
    expect(origin.stats.requests.filter((r) => r.path === "/one-conn.bin").map((r) => r.range)).toEqual([
      "bytes=0-",
    ]);
  });

  // Size PROBE + N*MIN + r (0 < r < MIN) with --min-split MIN = PROBE: the probe's answer carries the first
  // PROBE bytes, and after them N requests of at least MIN fit, N+1 do not; no request is 2*MIN long, so no
  // half is big enough to steal: at most N + 1 requests, at least two (the other connections carve the
  // rest while the first reads the probe's answer), tiling the file.
  const MIN = PROBE_FIRST_BYTES;
  test.each([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])(
    "-c %d on a size not divisible by N",
    async (n) => {
      let size = PROBE_FIRST_BYTES + n * MIN + MIN / 2 + 1;
      while (size % n === 0) size++;
      const path = `/split-${n}.bin`;
      const { cwd, run } = await download(path, { size, seed: n }, [
        "-c",
        String(n),
        "--min-split",
        String(MIN),
        "--json",
      ]);
      const { start, result } = records(run.stdout);
      expect(start["connections"]).toBe(n);
      expect(result["sha256"]).toBe(sha256Of(size, n));
      expect(sha256Hex(await readFile(join(cwd, path.slice(1))))).toBe(sha256Of(size, n));
      // The N requests tile [0, size-1] exactly, with no gap and no overlap. (sched: a request inside another
      // one's range is a part taken off a connection far slower than its peers, or a slow restart: on a loaded
      // machine loopback connections differ that much; at most one per connection.)
      const all = segmentRanges(path)
        .map((r) => r.replace("bytes=", "").split("-").map(Number))
        .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (b[1] ?? 0) - (a[1] ?? 0));
      const ranges = all.filter((r, i) => !all.slice(0, i).some((o) => (r[1] ?? 0) <= (o[1] ?? 0)));
      expect(all.length - ranges.length).toBeLessThanOrEqual(n);
      expect(ranges.length).toBeGreaterThanOrEqual(2);
      expect(ranges.length).toBeLessThanOrEqual(n + 1);
      expect(ranges[0]).toEqual([0, PROBE_FIRST_BYTES - 1]);
      let next = 0;
      for (const [first, last] of ranges) {
        expect(first).toBe(next);
        next = (last ?? 0) + 1;
      }
      expect(next).toBe(size);
    },
  );

  test("a 0-byte file and a 1-byte file", async () => {
    const zero = await download("/zero.bin", { size: 0 });
    expect((await readFile(join(zero.cwd, "zero.bin"))).length).toBe(0);
    expect(zero.run.stdout).toContain(`sha256 ${sha256Of(0)}`);
    const one = await download("/one.bin", { size: 1, seed: 3 });
    expect(new Uint8Array(await readFile(join(one.cwd, "one.bin")))).toEqual(bytesOf(0, 0, 3));
    expect(await listDir(one.cwd)).toEqual(["one.bin"]);
  });

  test("a server ignoring Range: one connection, one request, right bytes", async () => {
    const size = 300_001;
    const { cwd, run } = await download("/no-range.bin", { size, ignoreRange: true }, ["-c", "8", "--json"]);
    const { start, result } = records(run.stdout);
    expect([start["connections"], start["ranges"]]).toEqual([1, false]);
    expect(result["sha256"]).toBe(sha256Of(size));
    expect(sha256Hex(await readFile(join(cwd, "no-range.bin")))).toBe(sha256Of(size));
    expect(origin.stats.requests.filter((r) => r.path === "/no-range.bin").length).toBe(1);
  });

  test("a server without Content-Length: one streamed connection, said plainly", async () => {
    const size = 300_001;
    const { cwd, run } = await download("/no-length.bin", { size, noContentLength: true }, ["-c", "8"]);
    expect(sha256Hex(await readFile(join(cwd, "no-length.bin")))).toBe(sha256Of(size));
    expect(run.stderr).toContain("1 connection");
    expect(run.stderr).toContain("one connection");
  });

  test("redirects are followed; the file is the target's, named after the URL asked for", async () => {
    const size = 100_003;
    origin.serve("/target.bin", { size, seed: 11 });
    origin.serve("/hop2.bin", { size: 1, redirectTo: "/target.bin" });
    const { cwd } = await download("/hop1.bin", { size: 1, redirectTo: "/hop2.bin" }, ["--min-split", "8K"]);
    expect(await listDir(cwd)).toEqual(["hop1.bin"]);
    expect(sha256Hex(await readFile(join(cwd, "hop1.bin")))).toBe(sha256Of(size, 11));
    expect(segmentRanges("/target.bin").length).toBeGreaterThan(1);
  });

  test("Content-Disposition: a plain name is used; ../evil is ignored; -o wins", async () => {
    const plain = await download("/cd-plain.bin", {
      size: 10,
      contentDisposition: 'attachment; filename="report.pdf"',
    });
    expect(await listDir(plain.cwd)).toEqual(["report.pdf"]);
    const evil = await download("/cd-evil.bin", {
      size: 10,
      contentDisposition: 'attachment; filename="../evil"',
    });
    expect(await listDir(evil.cwd)).toEqual(["cd-evil.bin"]);
    expect(existsSync(join(evil.cwd, "..", "evil"))).toBe(false);
    const named = await download(
      "/cd-o.bin",
      { size: 10, contentDisposition: "attachment; filename=x.pdf" },
      ["-o", "mine"],
    );
    expect(await listDir(named.cwd)).toEqual(["mine"]);
  });

  test("--checksum sha256 and blake3 (hash-wasm) match", async () => {
    const size = 200_003;
    const hex = await blake3(bytesOf(0, size - 1, 5));
    for (const [algorithm, digest] of [
      ["sha256", sha256Of(size, 5)],
      ["blake3", hex],
    ] as const) {
      const path = `/sum-${algorithm}.bin`;
      const { run } = await download(path, { size, seed: 5 }, [
        "--checksum",
        `${algorithm}:${digest}`,
        "--json",
      ]);
      const { result } = records(run.stdout);
      expect(result["checksum"]).toEqual({ algorithm, hex: digest, source: "--checksum", ok: true });
      expect(result["sha256"]).toBe(sha256Of(size, 5));
    }
  });

  test("--force overwrites an existing file", async () => {
    const url = origin.serve("/forced.bin", { size: 5000 });
    const cwd = await freshDir();
    await writeFile(join(cwd, "forced.bin"), "old contents");
    const run = await runDlm(["get", url, "--force"], { cwd });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(await readFile(join(cwd, "forced.bin")))).toBe(sha256Of(5000));
  });

  test.each(["parts", "in-place", "default"])(
    "storage %s: right sha, sidecar gone, JSON lines",
    async (storage) => {
      const size = 1_000_003;
      const path = `/store-${storage}.bin`;
      const args = [
        "-c",
        "4",
        "--min-split",
        "16K",
        "--json",
        ...(storage === "default" ? [] : ["--storage", storage]),
      ];
      const { cwd, run } = await download(path, { size, seed: 9 }, args);
      const { start, result } = records(run.stdout);
      expect(start["storage"]).toBe(storage === "default" ? "in-place" : storage);
      expect(result).toMatchObject({
        path: join(cwd, path.slice(1)),
        bytes: size,
        sha256: sha256Of(size, 9),
      });
      expect(sha256Hex(await readFile(join(cwd, path.slice(1))))).toBe(sha256Of(size, 9));
      expect(await listDir(cwd)).toEqual([path.slice(1)]);
      // The output's mode is 0666 less the umask, as curl and wget leave a download (the sidecar, 0700,
      // is what keeps it private while it downloads).
      const umask = process.umask();
      expect((await stat(join(cwd, path.slice(1)))).mode & 0o777).toBe(0o666 & ~umask);
    },
  );
});

describe("dlm get: work stealing", () => {
  // Two connections, so no slow-connection restart (it needs three peers for a median) can hide the steal:
  // the first answer goes silent after 128 KiB; the other worker, done with its own segment, takes the rest
  // of the silent one's segment. That request starts inside a segment still being fetched and ends where
  // it ended; the silent worker, aborted by --stall-timeout, then asks only for what it kept before the
  // split. Carving alone never makes that pair of requests.
  test("an idle worker takes the back of a silent connection's segment; nothing is fetched twice", async () => {
    const size = 2 * 1024 * 1024;
    const stallAt = 128 * 1024;
    const file = { size, throttleBytesPerSec: 1024 * 1024, stallAfterBytes: stallAt, stallTimes: 1 };
    const args = ["-c", "2", "--min-split", "64K", "--stall-timeout", "2s"];
    origin.resetStats();
    const { cwd } = await download("/steal.bin", file, args);
    expect(sha256Hex(await readFile(join(cwd, "steal.bin")))).toBe(sha256Of(size));
    const ranges = segmentRanges("/steal.bin").map((r) => r.replace("bytes=", "").split("-").map(Number));
    const stalled = ranges[0] ?? [];
    const [first = -1, last = -1] = stalled;
    // The thief: starts past the stalled connection's stop point, inside its range, and ends where it did.
    const thief = ranges.find(([a = -1, b = -1]) => a > first + stallAt && a <= last && b === last);
    expect(thief).toBeDefined();
    // The victim's retry: from where the stall began up to just before a thief's start (the back of its
    // segment may have been taken more than once while it was silent).
    const retry = ranges.find(([a]) => a === first + stallAt);
    expect(ranges.some(([a]) => retry !== undefined && a === (retry[1] ?? -2) + 1)).toBe(true);
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(1.02 * size);
  });
});

describe("dlm get: byte ranges", () => {
  const size = 200_003;
  const cases: [string, string[], number, number][] = [
    ["first byte", ["--range-start", "0", "--range-end", "0"], 0, 0],
    ["last byte", ["--range-start", String(size - 1)], size - 1, size - 1],
    [
      "middle",
      ["--range-start", "70001", "--range-end", "150000", "-c", "4", "--min-split", "1K"],
      70_001,
      150_000,
    ],
    [
      "whole file",
      ["--range-start", "0", "--range-end", String(size - 1), "-c", "3", "--min-split", "1K"],
      0,
      size - 1,
    ],
    ["--range-end alone", ["--range-end", "999"], 0, 999],
  ];
  test.each(cases)("%s", async (name, args, first, last) => {
    const path = `/slice-${name.replace(/\W+/g, "-")}.bin`;
    const { cwd, run } = await download(path, { size, seed: 4 }, ["-o", "out", "--json", ...args]);
    const bytes = new Uint8Array(await readFile(join(cwd, "out")));
    expect(bytes.length).toBe(last - first + 1);
    expect(bytes).toEqual(bytesOf(first, last, 4));
    expect(records(run.stdout).result["bytes"]).toBe(last - first + 1);
  });

  test("parts of one file fetched as ranges concatenate into the whole", async () => {
    const url = origin.serve("/parts.bin", { size, seed: 6 });
    const cwd = await freshDir();
    const cuts = [
      [0, 99_999],
      [100_000, 150_000],
      [150_001, size - 1],
    ] as const;
    const parts: Uint8Array[] = [];
    for (const [i, [a, b]] of cuts.entries()) {
      const args = ["get", url, "-o", `p${i}`, "--range-start", String(a), "--range-end", String(b)];
      const run = await runDlm([...args, "-c", "3", "--min-split", "1K"], { cwd });
      expect(run.exitCode).toBe(EXIT.OK);
      parts.push(new Uint8Array(await readFile(join(cwd, `p${i}`))));
    }
    expect(sha256Hex(Buffer.concat(parts))).toBe(sha256Of(size, 6));
  });
});

describe("dlm get: many connections are faster", () => {
  test("with a per-connection throttle, -c 8 is at least 3x faster than -c 1", async () => {
    const size = 2 * 1024 * 1024;
    const url = origin.serve("/throttled.bin", { size, throttleBytesPerSec: 512 * 1024 });
    const one = await runDlm(["get", url, "-o", "one", "-c", "1"], { cwd: await freshDir() });
    const eight = await runDlm(["get", url, "-o", "eight", "-c", "8", "--min-split", "64K"], {
      cwd: await freshDir(),
    });
    expect([one.exitCode, eight.exitCode]).toEqual([EXIT.OK, EXIT.OK]);
    expect(one.stdout).toContain(sha256Of(size));
    expect(eight.stdout).toContain(sha256Of(size));
    expect(one.elapsedMs / eight.elapsedMs).toBeGreaterThanOrEqual(3);
  });
});

describe("--limit", () => {
  // The rate itself (within 10%): test/get-limit.test.ts (this origin) and test/get-nginx.test.ts.
  test("a connection waiting on the limit is not stalled: no retry even with a short --stall-timeout", async () => {
    const size = 192 * 1024;
    const url = origin.serve("/limited-slow.bin", { size });
    const cwd = await freshDir();
    const run = await runDlm(
      ["get", url, "-o", "s.bin", "-c", "2", "--limit", "64K", "--stall-timeout", "500ms", "--quiet"],
      { cwd, env: { DLM_LOG: "info" } },
    );
    expect(run.exitCode).toBe(EXIT.OK);
    expect(run.stderr).not.toContain("retrying");
    expect(run.stderr).not.toContain("stalled");
  });

  test("a rate below 1 KiB/s is a usage error", async () => {
    const cwd = await freshDir();
    const run = await runDlm(["get", "http://127.0.0.1:9/x", "--limit", "10"], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(run.stderr).toContain("--limit");
  });
});
