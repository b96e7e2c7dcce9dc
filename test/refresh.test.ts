import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { jsonLines, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

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
function expiringLink(name: string, size: number, validMs: number, seed = 3): string {
  origin.serve(`/signed/${name}`, {
    size,
    seed,
    throttleBytesPerSec: MB,
    requireUnexpired: true,
    cutAtExpiry: true,
  });
  return origin.serve(`/${name}`, { size, redirectTo: `/signed/${name}`, signLinksForMs: validMs });
}

/** Body bytes the origin served for `path` and the requests it answered 403. */
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

  test("a refresh that lands on another file stops with exit 7 and keeps the partial data", async () => {
    const size = 4 * MB;
    const link = expiringLink("changing.bin", size, 1000, 5);
    const cwd = await dirs.fresh();
    // The file behind the link changes (same size, new content) before the first link expires.
    const changeAfter = setTimeout(() => {
      origin.serve("/signed/changing.bin", {
        size,
        seed: 6,
        etag: false,
        throttleBytesPerSec: MB,
        requireUnexpired: true,
        cutAtExpiry: true,
      });
    }, 500);
    origin.update("/signed/changing.bin", { etag: false });
    const run = await runDlm(["get", link, "-c", "2"], { cwd, timeoutMs: 60_000 });
    clearTimeout(changeAfter);
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({
      exit: EXIT.REMOTE_CHANGED,
      stderr: expect.stringContaining("now leads to another file"),
    });
    expect(run.stderr).toContain("differ from those on disk");
    expect(existsSync(join(cwd, "changing.bin"))).toBe(false);
    expect(existsSync(join(cwd, "changing.bin.dlm", "state.json"))).toBe(true);
  }, 60_000);

  test("a refresh that finds another size stops with exit 7", async () => {
    const size = 3 * MB;
    const link = expiringLink("resized.bin", size, 800, 8);
    const cwd = await dirs.fresh();
    const changeAfter = setTimeout(() => origin.update("/signed/resized.bin", { size: size + 1 }), 300);
    const run = await runDlm(["get", link, "-c", "2"], { cwd, timeoutMs: 60_000 });
    clearTimeout(changeAfter);
    expect(run.exitCode).toBe(EXIT.REMOTE_CHANGED);
    expect(run.stderr).toContain(`size was ${size}, now ${size + 1}`);
  }, 60_000);

  test("a link the user gave directly is not refreshed: its 403 is final (exit 4)", async () => {
    const url = origin.serve("/plain-403.bin", { size: 1000, status: 403 });
    const run = await runDlm(["get", url], { cwd: await dirs.fresh() });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
  });

  test("--refresh-cmd: a command prints the fresh URL, told the old one in its environment", async () => {
    const size = 4 * MB;
    expiringLink("minted.bin", size, 1000, 9);
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
    const size = 2 * MB;
    expiringLink("bad-mint.bin", size, 300, 10);
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
