// Real small file systems (tmpfs). Up front: a download that cannot fit fails at once with STORAGE and
// "needs X, Y free on DIR", before the first byte, leaving nothing behind. Mid-way: a disk that another
// program fills during a download stops it with STORAGE and a valid state file that vouches only for right
// bytes; once space is freed, `dlm resume` completes with the right SHA-256.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statfsSync } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { mountSmallDisk, type SmallDisk } from "../helpers/fill-disk.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import {
  missingOf,
  progressAtLeast,
  readState,
  runDlm,
  sha256File,
  startDlm,
  vouchedBytes,
} from "./harness.ts";

const MiB = 1024 * 1024;
const SIZE = 6 * MiB;
/** Per connection: 4 connections fetch 6 MiB in about 3 s, time enough to fill the disk under them. */
const RATE = 512 * 1024;

const probe = await mountSmallDisk(4 * MiB);
const cannotMount = "reason" in probe ? probe.reason : undefined;
if ("reason" in probe) {
  console.log(`full-disk tests skipped: cannot mount a small tmpfs here (${probe.reason})`);
} else {
  await probe.unmount();
}

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

async function withDisk(bytes: number, body: (disk: SmallDisk) => Promise<void>): Promise<void> {
  const mounted = await mountSmallDisk(bytes);
  if ("reason" in mounted) throw new Error(mounted.reason);
  try {
    await body(mounted);
  } finally {
    await mounted.unmount();
  }
}

function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

describe.skipIf(cannotMount !== undefined)("space up front", () => {
  test.each([
    // [storage, disk, what it needs: in-place the file; parts the file and the assembly's copy]
    ["in-place", 4 * MiB, "6.0 MiB"],
    ["parts", 8 * MiB, "12.0 MiB"],
  ])("--storage %s on a %p-byte disk: STORAGE at once, needs %s", async (storage, size, needs) => {
    await withDisk(size as number, async (disk) => {
      const path = `/upfront-${storage}.bin`;
      const url = origin.serve(path, { size: SIZE });
      const out = join(disk.dir, `${storage}.bin`);
      const free = freeBytes(disk.dir);
      const run = await runDlm(["get", url, "-o", out, "-c", "4", "--storage", String(storage)], disk.dir);
      expect(run.code).toBe(EXIT.STORAGE);
      const lines = run.stderr.split("\n").filter((l) => l.startsWith("dlm: "));
      expect(lines.at(-1)).toBe(
        `dlm: cannot write ${out}: needs ${needs}, ${(free / MiB).toFixed(1)} MiB free on ${disk.dir} (free some space, or choose another -o)`,
      );
      // Only the probe's one byte was fetched, and nothing was left behind.
      expect(origin.stats.requests.filter((r) => r.path === path).length).toBe(1);
      expect(await readdir(disk.dir)).toEqual([]);
    });
  });

  test("a resume counts what is already on disk", async () => {
    await withDisk(16 * MiB, async (disk) => {
      const url = origin.serve("/upfront-resume.bin", { size: SIZE, dropAfterBytes: 300_000 });
      const out = join(disk.dir, "resume.bin");
      const first = await runDlm(["get", url, "-o", out, "-c", "2", "--retries", "0", "--quiet"], disk.dir);
      expect(first.code).toBe(EXIT.NETWORK);
      const vouched = await vouchedBytes(out);
      expect(vouched).toBeGreaterThan(0);
      origin.update("/upfront-resume.bin", { dropAfterBytes: undefined });
      // Leave less than the whole file free, but more than what is missing.
      const missing = SIZE - vouched;
      // The margin stays below what is vouched for (how much of a cut body arrives varies), so the free
      // space is less than the whole file.
      const margin = Math.min(256 * 1024, Math.floor(vouched / 2));
      await writeFile(join(disk.dir, "filler"), new Uint8Array(freeBytes(disk.dir) - missing - margin));
      expect(freeBytes(disk.dir)).toBeLessThan(SIZE);
      const resumed = await runDlm(["resume", out, "--quiet"], disk.dir);
      expect(resumed.code).toBe(EXIT.OK);
      expect(await sha256File(out)).toBe(sha256Of(SIZE));
    });
  });
});

describe.skipIf(cannotMount !== undefined)("full disk mid-way", () => {
  for (const storage of ["in-place", "parts"]) {
    test(`--storage ${storage}: STORAGE, state saved, resume completes after space is freed`, async () => {
      await withDisk(16 * MiB, async (disk) => {
        const url = origin.serve(`/${storage}.bin`, { size: SIZE, throttleBytesPerSec: RATE });
        const out = join(disk.dir, `${storage}.bin`);
        const filler = join(disk.dir, "filler");
        const running = startDlm(
          ["get", url, "-o", out, "-c", "4", "--storage", storage, "--json"],
          disk.dir,
        );
        // Past a checkpoint or two, another program takes all but 1 MiB of what is left.
        await running.line(progressAtLeast(2 * MiB));
        await writeFile(filler, new Uint8Array(Math.max(0, freeBytes(disk.dir) - 1 * MiB)));
        const run = await running.done;
        expect(run.code).toBe(EXIT.STORAGE);
        const error = run.stdout.split("\n").find((l) => l.includes('"type":"error"')) ?? run.stdout;
        expect(error).toContain("no space left on device");
        expect(error).toContain(`${out}.dlm/`);
        expect(existsSync(out)).toBe(false);
        const state = await readState(out);
        expect(state["storage"]).toBe(storage);
        const vouched = await vouchedBytes(out);
        console.log(
          `full disk (${storage}): stopped with ${vouched} of ${SIZE} bytes vouched for by state.json`,
        );
        const missing = missingOf(state.segments);
        expect(vouched + missing).toBe(SIZE);
        expect(vouched).toBeGreaterThan(0);

        await rm(filler);
        origin.update(`/${storage}.bin`, { throttleBytesPerSec: undefined });
        const resumed = await runDlm(["resume", out, "--quiet"], disk.dir);
        expect(resumed.code).toBe(EXIT.OK);
        expect(await sha256File(out)).toBe(sha256Of(SIZE));
        expect(existsSync(`${out}.dlm`)).toBe(false);
      });
    });
  }
});
