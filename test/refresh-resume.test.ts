import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// `dlm resume` of a link that redirects (a signed URL minted anew) checks the new target holds the bytes
// already stored, as a refresh does (engine/prepare.ts continueSaved): size and ETag alone let a careless
// server's other file be mixed into the one on disk.
let origin: Origin;
const dirs = tempDirs("dlm-refresh-resume-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

const MB = 1 << 20;

/** Resolves once the origin answered `path` with a 206 (polled every 10 ms, bounded by `timeoutMs`). */
async function servedRange(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!origin.stats.requests.some((r) => r.path === path && r.status === 206)) {
    if (performance.now() > deadline) throw new Error(`no 206 for ${path} within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

describe("dlm resume of a link that redirects", () => {
  test("after exit 7 (renewed onto another file of the same size and ETag) it refuses to mix; back on the file it finishes exact", async () => {
    const size = 4 * MB;
    const etag = `"${size.toString(16)}-5"`;
    const signed = { size, etag, throttleBytesPerSec: MB, requireUnexpired: true, cutAtExpiry: true };
    origin.serve("/signed/mixed.bin", { ...signed, seed: 5 });
    origin.serve("/signed/mixed-v2.bin", { ...signed, seed: 6 });
    const link = origin.serve("/mixed.bin", { size, redirectTo: "/signed/mixed.bin", signLinksForMs: 1000 });
    origin.resetStats();
    const replaced = servedRange("/signed/mixed.bin").then(() =>
      origin.update("/mixed.bin", { redirectTo: "/signed/mixed-v2.bin" }),
    );
    const cwd = await dirs.fresh();
    const first = await runDlm(["get", link, "-c", "2"], { cwd, timeoutMs: 60_000 });
    await replaced;
    expect({ exit: first.exitCode, stderr: first.stderr }).toEqual({
      exit: EXIT.REMOTE_CHANGED,
      stderr: expect.stringContaining("now leads to another file"),
    });

    // The link still leads to the other file: the resume stops before fetching any of its bytes.
    origin.resetStats();
    const again = await runDlm(["resume", "mixed.bin"], { cwd, timeoutMs: 60_000 });
    expect({ exit: again.exitCode, stderr: again.stderr }).toEqual({
      exit: EXIT.REMOTE_CHANGED,
      stderr: expect.stringContaining("differ from those on disk"),
    });
    expect(existsSync(join(cwd, "mixed.bin"))).toBe(false);
    expect(existsSync(join(cwd, "mixed.bin.dlm", "state.json"))).toBe(true);
    // Only the probe and the sample (at most 64 KiB) reached the other file.
    const v2 = origin.stats.requests.filter((r) => r.path === "/signed/mixed-v2.bin");
    expect(v2.map((r) => r.method)).toEqual(["GET", "GET"]);
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(64 * 1024 + 1);

    // Pointed back at the file on disk: the same check passes and the rest is fetched.
    origin.update("/mixed.bin", { redirectTo: "/signed/mixed.bin" });
    const back = await runDlm(["resume", "mixed.bin"], { cwd, timeoutMs: 60_000 });
    expect({ exit: back.exitCode, stderr: back.stderr }).toEqual({
      exit: EXIT.OK,
      stderr: expect.any(String),
    });
    expect(sha256Hex(await readFile(join(cwd, "mixed.bin")))).toBe(sha256Of(size, 5));
  }, 90_000);
});
