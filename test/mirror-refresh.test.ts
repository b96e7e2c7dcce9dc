import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, type OriginFile, startOrigin } from "./helpers/origin.ts";

// Issue 22 item 1 for mirrors (issue 21): each source's signed link is renewed from its own given URL, and a
// mirror whose renewed link is another file is dropped while the download finishes from the others.
let origin: Origin;
const dirs = tempDirs("dlm-mirror-refresh-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

const MB = 1 << 20;

/** A plain file (the URL given, source 0), paced like the mirror so both carry part of the download. */
function plainFile(name: string, size: number, seed: number): string {
  return origin.serve(`/plain/${name}`, { size, seed, throttleBytesPerSec: MB });
}

/** `/NAME` mints signed URLs of `/signed/NAME` valid `validMs`; bodies still running at expiry are cut. */
function expiringMirror(
  name: string,
  size: number,
  seed: number,
  validMs: number,
  more: OriginFile = { size },
) {
  origin.serve(`/signed/${name}`, {
    throttleBytesPerSec: MB,
    requireUnexpired: true,
    cutAtExpiry: true,
    ...more,
    size,
    seed,
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

function answered(path: string) {
  return origin.stats.requests.filter((r) => r.path === path);
}

describe("mirrors whose links expire", () => {
  test("a mirror's signed link that expires mid-download is renewed from its own URL: exact, <= 1.10x bytes", async () => {
    const size = 12 * MB;
    const main = plainFile("m-expiring.bin", size, 21);
    const mirror = expiringMirror("m-expiring.bin", size, 21, 1500);
    origin.resetStats();
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", main, "--mirror", mirror, "-c", "4", "-o", "out.bin"], {
      cwd,
      timeoutMs: 60_000,
    });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    expect(sha256Hex(await readFile(join(cwd, "out.bin")))).toBe(sha256Of(size, 21));
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(size * 1.1);
    // The mirror's target expired, its given URL minted a new one, and ranges went on there after the 403.
    const signed = answered("/signed/m-expiring.bin");
    const firstExpiry = signed.findIndex((r) => r.status === 403);
    expect(firstExpiry).toBeGreaterThanOrEqual(0);
    expect(signed.slice(firstExpiry).some((r) => r.status === 206)).toBe(true);
    expect(answered("/m-expiring.bin").length).toBeGreaterThanOrEqual(2);
    // The command-less refresh of a mirror never asks source 0 for a link: the main URL was never redirected.
    expect(answered("/plain/m-expiring.bin").every((r) => r.status === 206 || r.method === "HEAD")).toBe(
      true,
    );
  }, 60_000);

  test("a mirror whose renewed link serves another file is dropped; the download finishes exact from the others", async () => {
    const size = 6 * MB;
    const main = plainFile("m-replaced.bin", size, 22);
    // Same size and the same strong ETag (a careless mirror): only the bytes already on disk tell them apart.
    const etag = `"${size.toString(16)}-16"`;
    const mirror = expiringMirror("m-replaced.bin", size, 22, 800, { size, etag });
    origin.serve("/signed/m-replaced-v2.bin", {
      size,
      seed: 23,
      etag,
      throttleBytesPerSec: MB,
      requireUnexpired: true,
      cutAtExpiry: true,
    });
    origin.resetStats();
    // Once the mirror served its first bytes, the links it mints lead to the other file.
    const replaced = servedRange("/signed/m-replaced.bin").then(() =>
      origin.update("/m-replaced.bin", { redirectTo: "/signed/m-replaced-v2.bin" }),
    );
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", main, "--mirror", mirror, "-c", "4", "-o", "out.bin"], {
      cwd,
      timeoutMs: 60_000,
    });
    await replaced;
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    expect(sha256Hex(await readFile(join(cwd, "out.bin")))).toBe(sha256Of(size, 22));
    expect(existsSync(join(cwd, "out.bin.dlm"))).toBe(false);
    // The renewed target was checked (the sample of stored bytes) and found to be another file: one line says so.
    expect(answered("/signed/m-replaced-v2.bin").some((r) => r.status === 206)).toBe(true);
    expect(run.stderr).toContain("differ from those on disk");
    const dropped = run.stderr.split("\n").filter((l) => l.includes('"what":"dropped'));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toContain('"source":1');
    expect(dropped[0]).toContain("its renewed link leads to another file");
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(size * 1.1 + 64 * 1024);
  }, 60_000);
});
