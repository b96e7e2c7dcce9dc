import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { jsonLines, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, type OriginFile, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
const dirs = tempDirs("dlm-refresh-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

const MB = 1 << 20;

/** Serves `/NAME` as a link minting signed URLs of `/signed/NAME` valid `validMs`; returns the link. */
function expiringLink(name: string, size: number, validMs: number, seed = 3, expiredStatus = 403): string {
  origin.serve(`/signed/${name}`, {
    size,
    seed,
    throttleBytesPerSec: MB,
    requireUnexpired: true,
    cutAtExpiry: true,
    expiredStatus,
  });
  return origin.serve(`/${name}`, { size, redirectTo: `/signed/${name}`, signLinksForMs: validMs });
}

/** Resolves once the origin answered `path` with a 206 (polled every 10 ms, bounded by `timeoutMs`). */
async function servedRange(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!origin.stats.requests.some((r) => r.path === path && r.status === 206)) {
    if (performance.now() > deadline) throw new Error(`no 206 for ${path} within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

/** The requests the origin answered 403 for `path`. */
function servedFor(path: string): { expired: number } {
  return { expired: origin.stats.requests.filter((r) => r.path === path && r.status === 403).length };
}

describe("links that expire", () => {
  test("12 MB through links valid 1.5 s at 4 x 1 MB/s: exact, <= 1.10x the bytes, several expiries on every connection", async () => {
    const size = 12 * MB;
    const link = expiringLink("expiring.bin", size, 1500);
    origin.resetStats();
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", link, "-c", "4", "--json"], { cwd, timeoutMs: 60_000 });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    expect(sha256Hex(await readFile(join(cwd, "expiring.bin")))).toBe(sha256Of(size, 3));
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(size * 1.1);
    // Several expiries, each seen by several connections (each cut at expiry) and resolved by a shared refresh.
    const { expired } = servedFor("/signed/expiring.bin");
    const mints = origin.stats.requests.filter((r) => r.path === "/expiring.bin").length;
    expect(expired).toBeGreaterThanOrEqual(4);
    expect(mints).toBeGreaterThanOrEqual(3);
    // Single-flight: fewer link resolutions than refused requests.
    expect(mints).toBeLessThan(expired + 1);
    const result = jsonLines(run.stdout).at(-1);
    expect(result?.["sha256"]).toBe(sha256Of(size, 3));
  }, 60_000);

  /**
   * Serves the link, and once its first bytes went out, points it at `/signed/NAME-v2` (`v2`) for the next
   * links it mints: the target in use stays as it was until it expires, and the refresh finds the new file.
   */
  async function getThroughReplacedFile(name: string, size: number, v2: OriginFile, args: string[]) {
    const link = expiringLink(name, size, 1000, 5);
    origin.serve(`/signed/${name}-v2`, {
      throttleBytesPerSec: MB,
      requireUnexpired: true,
      cutAtExpiry: true,
      ...v2,
    });
    origin.resetStats();
    const replaced = servedRange(`/signed/${name}`).then(() =>
      origin.update(`/${name}`, { redirectTo: `/signed/${name}-v2` }),
    );
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", link, "-c", "2", ...args], { cwd, timeoutMs: 60_000 });
    await replaced;
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({
      exit: EXIT.REMOTE_CHANGED,
      stderr: expect.stringContaining("now leads to another file"),
    });
    expect(existsSync(join(cwd, name))).toBe(false);
    expect(existsSync(join(cwd, `${name}.dlm`, "state.json"))).toBe(true);
    return run;
  }

  test.each(["in-place", "parts"])(
    "a refresh that lands on another file of the same size and ETag stops with exit 7, partial data kept (--storage %s)",
    async (storage) => {
      const size = 4 * MB;
      // Same size, same ETag (a careless server): only the bytes already on disk tell the files apart.
      const run = await getThroughReplacedFile(
        `same-size-${storage}.bin`,
        size,
        { size, seed: 6, etag: `"${size.toString(16)}-5"` },
        ["--storage", storage],
      );
      expect(run.stderr).toContain("differ from those on disk");
      expect(run.stderr).toContain("the partial data is kept");
    },
    60_000,
  );

  test("a refresh that finds another size, or another strong ETag, stops with exit 7", async () => {
    const size = 3 * MB;
    const sized = await getThroughReplacedFile("resized.bin", size, { size: size + 1, seed: 5 }, []);
    expect(sized.stderr).toContain(`size was ${size}, now ${size + 1}`);
    const tagged = await getThroughReplacedFile("retagged.bin", size, { size, seed: 5, etag: '"other"' }, []);
    expect(tagged.stderr).toContain('now "other"');
  }, 60_000);

  test("a 400 that says the token expired is an expiry too", async () => {
    const size = 3 * MB;
    const link = expiringLink("token.bin", size, 700, 14, 400);
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", link, "-c", "2"], { cwd, timeoutMs: 60_000 });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    expect(sha256Hex(await readFile(join(cwd, "token.bin")))).toBe(sha256Of(size, 14));
    expect(origin.stats.requests.some((r) => r.path === "/signed/token.bin" && r.status === 400)).toBe(true);
  }, 60_000);

  test("a link that dies faster than it can be used: 10 refreshes a minute, then exit 4, state kept", async () => {
    const size = 8 * MB;
    const link = expiringLink("dying.bin", size, 60, 15);
    origin.resetStats();
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", link, "-c", "2"], { cwd, timeoutMs: 60_000 });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({
      exit: EXIT.HTTP_STATUS,
      stderr: expect.stringContaining("after the link was renewed 10 times within 60 s"),
    });
    // The first resolution and ten refreshes: then it stops asking.
    expect(origin.stats.requests.filter((r) => r.path === "/dying.bin").length).toBe(11);
    expect(existsSync(join(cwd, "dying.bin.dlm", "state.json"))).toBe(true);
  }, 60_000);

  test("a link the user gave directly is not refreshed: its 403 is final (exit 4)", async () => {
    const url = origin.serve("/plain-403.bin", { size: 1000, status: 403 });
    const run = await runDlm(["get", url], { cwd: await dirs.fresh() });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
  });

  test("--refresh-cmd: a command prints the fresh URL, told the old one in its environment", async () => {
    const size = 6 * MB;
    // Given as the signed URL itself: valid long enough for the probe (dlm's start-up under load).
    expiringLink("minted.bin", size, 2500, 9);
    const cwd = await dirs.fresh();
    const script = join(cwd, "mint.sh");
    const log = join(cwd, "mint.log");
    // The script resolves the mint link itself (as an API call would) and prints where it points.
    await writeFile(
      script,
      `#!/bin/sh\necho "$DLM_STATUS $DLM_EXPIRED_URL" >> "${log}"\ncurl -s -o /dev/null -w '%{redirect_url}\\n' "${origin.url("/minted.bin")}"\n`,
    );
    await chmod(script, 0o755);
    // Given directly as the signed target: without the command, its first expiry would be final.
    const first = await fetch(origin.url("/minted.bin"), { redirect: "manual" });
    const signed = first.headers.get("location") ?? "";
    const run = await runDlm(
      ["get", origin.url(signed), "-o", "minted.bin", "-c", "2", "--refresh-cmd", `${script}`],
      { cwd, timeoutMs: 60_000 },
    );
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    expect(sha256Hex(await readFile(join(cwd, "minted.bin")))).toBe(sha256Of(size, 9));
    const calls = (await readFile(log, "utf8")).trim().split("\n");
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toStartWith("403 http://127.0.0.1:");
  }, 60_000);

  test("--refresh-cmd that prints a file: URL is refused (exit 2)", async () => {
    const size = 6 * MB;
    // Valid long enough for the probe (dlm's start-up under load), expired before the download ends.
    expiringLink("bad-mint.bin", size, 2500, 10);
    const first = await fetch(origin.url("/bad-mint.bin"), { redirect: "manual" });
    const cwd = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        origin.url(first.headers.get("location") ?? ""),
        "-o",
        "x.bin",
        "-c",
        "1",
        "--refresh-cmd",
        "echo file:///etc/passwd",
      ],
      { cwd, timeoutMs: 60_000 },
    );
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(run.stderr).toContain("file:///etc/passwd");
  }, 60_000);
});
