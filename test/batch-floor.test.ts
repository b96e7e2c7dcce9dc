import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
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

describe("kill -9 during a batch, then resume", () => {
  test("finished files are exact, nothing unverified under a final name, kept bytes are not asked again", async () => {
    const dir = await dirs.fresh();
    const small = Array.from({ length: 4 }, (_, i) => ({
      name: `s-${i}.bin`,
      size: 48 * 1024 + i,
      seed: 200 + i,
    }));
    const big = { name: "big.bin", size: 2 * 1024 * 1024, seed: 210 };
    const lines: string[] = [];
    for (const file of small) {
      origin.serve(`/kill/${file.name}`, { size: file.size, seed: file.seed });
      lines.push(origin.url(`/kill/${file.name}`), `  out=${file.name}`);
    }
    // 512 KiB/s: the big file takes about 4 s, long enough for checkpoints before the kill.
    origin.serve(`/kill/${big.name}`, { size: big.size, seed: big.seed, throttleBytesPerSec: 512 * 1024 });
    lines.push(origin.url(`/kill/${big.name}`), `  out=${big.name}`);
    await writeFile(join(dir, "list.txt"), `${lines.join("\n")}\n`);
    const live = spawnDlm(["get", "-i", "list.txt", "-j", "5", "-c", "1", "--quiet"], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    // Events: every small file's result line is out, and the big one has recorded bytes.
    for (const file of small) await live.printed("stdout", new RegExp(`${file.name}  ${file.size} bytes`));
    const state = join(dir, `${big.name}.dlm`, "state.json");
    await until(() => keptIn(state) > 0);
    live.proc.kill("SIGKILL");
    await live.done;
    for (const file of small) {
      const bytes = new Uint8Array(await readFile(join(dir, file.name)));
      expect(sha256Hex(bytes)).toBe(sha256Of(file.size, file.seed));
      expect(existsSync(join(dir, `${file.name}.dlm`))).toBe(false);
    }
    expect(existsSync(join(dir, big.name))).toBe(false);
    const kept = keptIn(state);
    origin.update(`/kill/${big.name}`, { throttleBytesPerSec: undefined });
    origin.resetStats();
    const resumed = await runDlm(["resume", big.name, "--quiet"], { cwd: dir, timeoutMs: 60_000 });
    expect(resumed.exitCode).toBe(0);
    // Its sidecar held a state file: removed whole, not only when empty.
    expect(existsSync(join(dir, `${big.name}.dlm`))).toBe(false);
    expect(sha256Hex(new Uint8Array(await readFile(join(dir, big.name))))).toBe(sha256Of(big.size, big.seed));
    // The recorded prefix is never fetched again: after the kill the origin sends the rest, plus the one byte
    // the resume's probe asks to check the file did not change.
    expect(kept).toBeGreaterThan(0);
    expect(origin.stats.bytesByPath.get(`/kill/${big.name}`)).toBe(big.size - kept + 1);
  }, 90_000);
});

/** Bytes from the file's start that the state file at `path` vouches for; 0 while there is none. */
function keptIn(path: string): number {
  if (!existsSync(path)) return 0;
  // state.json is replaced by a rename: a read sees the old or the new one, whole.
  const state = JSON.parse(readFileSync(path, "utf8")) as { segments: { start: number; done: number }[] };
  return state.segments.find((segment) => segment.start === 0)?.done ?? 0;
}
