// A real full disk (a 4 MiB tmpfs) under a 6 MiB download: STORAGE with a valid state file that vouches only
// for right bytes; once the filesystem grows, `dlm resume` completes with the right SHA-256.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { mountSmallDisk, type SmallDisk } from "../helpers/fill-disk.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { missingOf, readState, runDlm, sha256File, vouchedBytes } from "./harness.ts";

const MiB = 1024 * 1024;
const SIZE = 6 * MiB;
const DISK = 4 * MiB;
/** Per connection: 4 connections fill the 4 MiB disk in about 2 s. */
const RATE = 512 * 1024;

const probe = await mountSmallDisk(DISK);
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

describe.skipIf(cannotMount !== undefined)("full disk", () => {
  for (const storage of ["in-place", "parts"]) {
    test(`--storage ${storage}: STORAGE, state saved, resume completes after space is freed`, async () => {
      const mounted = await mountSmallDisk(DISK);
      if ("reason" in mounted) throw new Error(mounted.reason);
      const disk: SmallDisk = mounted;
      try {
        // Paced so the disk fills after ~2 s: periodic checkpoints (every ~1 s) have saved progress by then.
        const url = origin.serve(`/${storage}.bin`, { size: SIZE, throttleBytesPerSec: RATE });
        const out = join(disk.dir, `${storage}.bin`);
        const run = await runDlm(
          ["get", url, "-o", out, "-c", "4", "--storage", storage, "--quiet"],
          disk.dir,
        );
        expect(run.code).toBe(EXIT.STORAGE);
        const line = run.stderr.split("\n").find((l) => l.startsWith("dlm: ")) ?? run.stderr;
        expect(line).toContain("no space left on device");
        expect(line).toContain("dlm resume");
        expect(existsSync(out)).toBe(false);
        const state = await readState(out);
        expect(state["storage"]).toBe(storage);
        const vouched = await vouchedBytes(out);
        console.log(
          `full disk (${storage}): stopped with ${vouched} of ${SIZE} bytes vouched for by state.json (disk ${DISK} bytes)`,
        );
        const missing = missingOf(state.segments);
        expect(vouched + missing).toBe(SIZE);
        // The final checkpoint finds no room for state.json.tmp, so the state is the last periodic one.
        expect(vouched).toBeGreaterThan(0);

        await disk.resize(4 * SIZE);
        origin.update(`/${storage}.bin`, { throttleBytesPerSec: undefined });
        const resumed = await runDlm(["resume", out, "--quiet"], disk.dir);
        expect(resumed.code).toBe(EXIT.OK);
        expect(await sha256File(out)).toBe(sha256Of(SIZE));
        expect(existsSync(`${out}.dlm`)).toBe(false);
      } finally {
        await disk.unmount();
      }
    });
  }
});
