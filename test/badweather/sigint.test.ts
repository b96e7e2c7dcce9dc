// Ctrl+C pauses: exit INTERRUPTED within a bounded time, state saved, and `dlm resume` fetches exactly the
// bytes the state file says are missing (within one read chunk per connection).
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { spawnDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import {
  missingOf,
  pausedWithEverythingDone,
  progressAtLeast,
  readState,
  runDlm,
  sha256File,
  startDlm,
  vouchedBytes,
} from "./harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 8 * MiB;
const CONNECTIONS = 4;
/** Per connection; 4 connections fetch the file in about 4 s, so a pause lands mid-way. */
const RATE = 512 * KiB;

let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-sigint-"));
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => origin.resetStats());

test("SIGINT pauses with state saved; resume fetches only the missing bytes", async () => {
  const url = origin.serve("/sigint.bin", { size: SIZE, throttleBytesPerSec: RATE });
  const out = join(dir, "sigint.bin");
  const running = startDlm(["get", url, "-o", out, "-c", String(CONNECTIONS), "--json"], dir);
  await running.line(progressAtLeast(2 * MiB));
  const sent = performance.now();
  running.proc.kill("SIGINT");
  const run = await running.done;
  const stopMs = performance.now() - sent;
  expect(run.code).toBe(EXIT.INTERRUPTED);
  expect(run.stderr).toContain(`dlm resume ${out}`);
  const vouched = await vouchedBytes(out);
  const missing = missingOf((await readState(out)).segments);
  expect(vouched + missing).toBe(SIZE);
  expect(vouched).toBeGreaterThanOrEqual(2 * MiB - CONNECTIONS * 64 * KiB);

  origin.resetStats();
  const resumed = await runDlm(["resume", out, "-c", String(CONNECTIONS), "--quiet"], dir);
  expect(resumed.code).toBe(EXIT.OK);
  expect(await sha256File(out)).toBe(sha256Of(SIZE));
  expect(existsSync(`${out}.dlm`)).toBe(false);
  // The probe's one byte is not part of the download.
  const fetched = origin.stats.bytesServed - 1;
  const difference = fetched - missing;
  console.log(
    `SIGINT -> exit: ${stopMs.toFixed(0)} ms; missing at pause ${missing} bytes, served on resume ${fetched} bytes, difference ${difference} bytes`,
  );
  expect(stopMs).toBeLessThan(2000);
  expect(Math.abs(difference)).toBeLessThanOrEqual(CONNECTIONS * 64 * KiB);
});

test("a second SIGINT exits at once: during a long verification, where the first is refused", async () => {
  // 512 MiB that the state file says are all on disk: the resumed run fetches nothing and spends seconds
  // verifying, a phase in which a pause is refused (see pausedWithEverythingDone).
  const url = origin.serve("/twice.bin", { size: 512 * MiB, throttleBytesPerSec: RATE });
  const out = join(dir, "twice.bin");
  await pausedWithEverythingDone(url, out, dir);
  const segments = (await readState(out)).segments;

  const resumed = spawnDlm(["resume", out, "--json"], {
    cwd: dir,
    env: { DLM_LOG: "warning,control=debug", DLM_LOG_FORMAT: "json" },
    timeoutMs: 60_000,
  });
  await resumed.printed("stderr", /"to":"verifying"/);
  resumed.proc.kill("SIGINT");
  await resumed.printed("stderr", /"message":"\\"pause\\" from \\"SIGINT\\" refused/);
  // A second press, not the same press delivered twice: those come within 1 s (see control/signals.ts).
  await Bun.sleep(1100);
  const sent = performance.now();
  resumed.proc.kill("SIGINT");
  const run = await resumed.done;
  const exitMs = performance.now() - sent;
  // Out at once: interrupted, not the integrity failure the finished verification would have reported.
  expect(run.exitCode).toBe(EXIT.INTERRUPTED);
  expect(run.stderr).not.toContain("mismatch");
  expect(exitMs).toBeLessThan(1000);
  // The last checkpoint (the resumed run's first) is whole: `dlm resume` would start from it again.
  expect((await readState(out)).segments).toEqual(segments);
}, 60_000);
