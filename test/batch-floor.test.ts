import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { listDir, runDlm, spawnDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// The per-file path of a batch of small files (issue 24, "Batches at the floor"): one request per file, the
// output's directory resolved once, an emptied sidecar removed with one rmdir, and no stale-sidecar removal
// when nothing was there; none of it may lose a guarantee.

let origin: Origin;
const dirs = tempDirs();

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** Polls (bounded, 10 ms steps) until `check` holds: the origin records requests as they come. */
async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("dlm get -i: a batch of small files", () => {
  test("one request per file, every file exact, no sidecar left", async () => {
    const dir = await dirs.fresh();
    const count = 24;
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const path = `/floor/f-${i}.bin`;
      origin.serve(path, { size: 64 * 1024 + i, seed: 100 + i });
      lines.push(origin.url(path), `  out=f-${i}.bin`);
    }
    await writeFile(join(dir, "list.txt"), `${lines.join("\n")}\n`);
    origin.resetStats();
    const result = await runDlm(["get", "-i", "list.txt", "-j", "4", "-c", "1", "--quiet"], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    expect(result.stderr).toContain(`${count} finished`);
    expect(result.exitCode).toBe(0);
    const asked = origin.stats.requests.filter((r) => r.path.startsWith("/floor/"));
    expect(asked.length).toBe(count);
    expect(new Set(asked.map((r) => r.path)).size).toBe(count);
    expect(await listDir(dir)).toEqual(
      [...Array.from({ length: count }, (_, i) => `f-${i}.bin`), "list.txt"].sort(),
    );
    for (let i = 0; i < count; i++) {
      const bytes = new Uint8Array(await readFile(join(dir, `f-${i}.bin`)));
      expect(sha256Hex(bytes)).toBe(sha256Of(64 * 1024 + i, 100 + i));
    }
  }, 90_000);
});

describe("a fresh download and a sidecar that appears during its probe", () => {
  test("is refused, and what is in that sidecar stays", async () => {
    const dir = await dirs.fresh();
    const path = "/floor/race.bin";
    // The first probe is refused with Retry-After: 1, which leaves a second for another process to take the
    // sidecar's name between dlm's look for an earlier run and its plan of a fresh one.
    origin.serve(path, { size: 256 * 1024, failStatuses: [503], retryAfter: "1" });
    origin.resetStats();
    const live = spawnDlm(["get", origin.url(path), "-o", "race.bin", "--quiet"], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    await until(() => origin.stats.requests.some((r) => r.path === path && r.status === 503));
    const sidecar = join(dir, "race.bin.dlm");
    await mkdir(sidecar, { mode: 0o700 });
    await writeFile(join(sidecar, "other-process"), "mine\n");
    const result = await live.done;
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("race.bin.dlm");
    expect(await readFile(join(sidecar, "other-process"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dir, "race.bin"))).toBe(false);
  }, 90_000);
});
