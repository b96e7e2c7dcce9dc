// One file from several sources, against real servers on loopback: three mirrors with ETags of their own, a
// mirror that dies mid-way, a mirror with another size, a source that takes two connections (503 beyond).
// Each run must leave the exact file (SHA-256) under its name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { runDlm, spawnDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

const MiB = 1 << 20;
let origin: Origin;
const dirs = tempDirs("dlm-mirrors-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** GETs the origin answered for `path` with `status`. */
function answered(o: Origin, path: string, status: number) {
  return o.stats.requests.filter((r) => r.path === path && r.method === "GET" && r.status === status);
}

async function expectExact(cwd: string, name: string, size: number, seed: number): Promise<void> {
  expect(sha256Hex(await readFile(join(cwd, name)))).toBe(sha256Of(size, seed));
}

describe("dlm get --mirror", () => {
  test("the exact file from three mirrors, each asked with its own ETag in If-Range", async () => {
    const size = 6 * MiB + 123;
    const seed = 21;
    // Paced per response, so that every source gets work while the others are busy.
    const paths = ["/m/a/three.bin", "/m/b/three.bin", "/m/c/three.bin"];
    const urls = paths.map((p, i) =>
      origin.serve(p, { size, seed, etag: `"mirror-${i}"`, throttleBytesPerSec: 4 * MiB }),
    );
    const cwd = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        urls[0] ?? "",
        "--mirror",
        urls[1] ?? "",
        "--mirror",
        urls[2] ?? "",
        "-c",
        "6",
        "--min-split",
        "256K",
      ],
      { cwd },
    );
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    await expectExact(cwd, "three.bin", size, seed);
    paths.forEach((p, i) => {
      const ranged = answered(origin, p, 206);
      expect(ranged.length).toBeGreaterThan(0);
      // A mirror's ETag is its own: never another's in If-Range.
      for (const r of ranged) if (r.ifRange !== undefined) expect(r.ifRange).toBe(`"mirror-${i}"`);
    });
  });

  test("a mirror with another size is dropped (one line), the file is exact", async () => {
    const size = 4 * MiB;
    const seed = 22;
    const good = origin.serve("/m/size/good.bin", { size, seed, throttleBytesPerSec: 4 * MiB });
    const other = origin.serve("/m/size/other.bin", { size: size + 1000, seed });
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", good, "--mirror", other, "-c", "4", "--min-split", "256K"], { cwd });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    await expectExact(cwd, "good.bin", size, seed);
    // One log line: the mirror's probe already shows its other size, so it never gets a segment.
    expect(run.stderr.match(/dropping mirror/g)?.length).toBe(1);
    expect(run.stderr).toContain(other);
  });

  test("a mirror that dies mid-way: its segments are fetched from the others, the file is exact", async () => {
    const size = 8 * MiB;
    const seed = 23;
    const dying = await startOrigin();
    try {
      const main = origin.serve("/m/dies/file.bin", { size, seed, throttleBytesPerSec: 2 * MiB });
      const mirror = dying.serve("/m/dies/file.bin", { size, seed, throttleBytesPerSec: 2 * MiB });
      const cwd = await dirs.fresh();
      const live = spawnDlm(["get", main, "--mirror", mirror, "-c", "4", "--min-split", "256K"], { cwd });
      // The mirror goes away once it has sent some of its answers (polled: the origin has no event for it;
      // bounded).
      for (let i = 0; i < 1000 && dying.stats.bytesServed < 512 * 1024; i++) await Bun.sleep(10);
      expect(dying.stats.bytesServed).toBeGreaterThanOrEqual(512 * 1024);
      await dying.close();
      const run = await live.done;
      expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({
        exit: EXIT.OK,
        stderr: expect.any(String),
      });
      await expectExact(cwd, "file.bin", size, seed);
    } finally {
      await dying.close().catch(() => undefined);
    }
  });

  test("a source that takes two connections: 503 beyond two sets its limit, no failure, exact file", async () => {
    const size = 6 * MiB;
    const seed = 24;
    const url = origin.serve("/m/two/file.bin", {
      size,
      seed,
      maxConcurrent: 2,
      throttleBytesPerSec: 8 * MiB,
    });
    const cwd = await dirs.fresh();
    const run = await runDlm(["get", url, "-c", "6", "--min-split", "256K", "--retries", "2"], { cwd });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    await expectExact(cwd, "file.bin", size, seed);
    expect(answered(origin, "/m/two/file.bin", 503).length).toBeGreaterThan(0);
    expect(run.stderr.match(/source 0 \\?"takes at most 2 connections/g)?.length).toBe(1);
    // After the limit is learned, no more than a handful of refusals (one per connection over the limit).
    expect(answered(origin, "/m/two/file.bin", 503).length).toBeLessThanOrEqual(6);
  });

  test("state.json keeps the mirrors; a resume after kill -9 fetches from them too", async () => {
    const size = 6 * MiB;
    const seed = 25;
    const main = origin.serve("/m/resume/a.bin", { size, seed, throttleBytesPerSec: 1 * MiB });
    const mirror = origin.serve("/m/resume/b.bin", { size, seed, throttleBytesPerSec: 1 * MiB });
    const cwd = await dirs.fresh();
    const args = ["-c", "4", "--min-split", "256K", "--checkpoint-interval", "100ms"];
    const live = spawnDlm(["get", main, "--mirror", mirror, "-o", "out.bin", ...args], { cwd });
    const state = join(cwd, "out.bin.dlm", "state.json");
    // The first checkpoint (polled: no event crosses the process boundary; bounded).
    for (let i = 0; i < 1000 && !existsSync(state); i++) await Bun.sleep(10);
    expect(JSON.parse(await readFile(state, "utf8")).mirrors.map((m: { given: string }) => m.given)).toEqual([
      mirror,
    ]);
    live.proc.kill("SIGKILL");
    await live.done.catch(() => undefined);
    origin.resetStats();
    const run = await runDlm(["resume", "out.bin", "-c", "4"], { cwd });
    expect({ exit: run.exitCode, stderr: run.stderr }).toEqual({ exit: EXIT.OK, stderr: expect.any(String) });
    await expectExact(cwd, "out.bin", size, seed);
    expect(answered(origin, "/m/resume/b.bin", 206).length).toBeGreaterThan(0);
  });
});
