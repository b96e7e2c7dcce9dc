// Ctrl+C pauses: exit INTERRUPTED within a bounded time, state saved, and `dlm resume` fetches exactly the
// bytes the state file says are missing (within one read chunk per connection).
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import {
  missingOf,
  progressAtLeast,
  REPO,
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

/**
 * `dlm resume FILE` with DLM_LOG records of the control category on stderr, read line by line as they come.
 * `record(match)` resolves with the first record whose message matches.
 */
function resumeWithControlLog(out: string) {
  const proc = Bun.spawn(
    [join(REPO, "node_modules/.bin/bun"), join(REPO, "src/main.ts"), "resume", out, "--json"],
    {
      cwd: dir,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, DLM_LOG: "warning,control=debug", DLM_LOG_FORMAT: "json" },
    },
  );
  let stderr = "";
  const waiters = new Set<() => void>();
  const read = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      stderr += decoder.decode(chunk, { stream: true });
      for (const check of [...waiters]) check();
    }
  })();
  const stdout = new Response(proc.stdout).text();
  const done = (async () => {
    const code = await proc.exited;
    await read;
    for (const check of [...waiters]) check();
    return { code, stderr, stdout: await stdout };
  })();
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  const record = (what: string, match: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (match.test(stderr)) {
          waiters.delete(check);
          resolve();
        } else if (exited) {
          waiters.delete(check);
          reject(new Error(`dlm resume ended before ${what}: ${stderr}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { proc, done, record };
}

test("a second SIGINT exits at once: during a long verification, where the first is refused", async () => {
  // 512 MiB whose pieces the state file says are all on disk (a sparse data file): the resumed run fetches
  // nothing and spends seconds verifying SHA3-256 (hash-wasm) from disk, a phase in which a pause is refused.
  const size = 512 * MiB;
  const url = origin.serve("/twice.bin", { size, throttleBytesPerSec: RATE });
  const out = join(dir, "twice.bin");
  const wrong = `sha3-256:${"0".repeat(64)}`;
  const first = startDlm(["get", url, "-o", out, "-c", "1", "--checksum", wrong, "--json"], dir);
  await first.line(progressAtLeast(64 * KiB));
  first.proc.kill("SIGINT");
  expect((await first.done).code).toBe(EXIT.INTERRUPTED);
  const statePath = `${out}.dlm/state.json`;
  const state = await readState(out);
  for (const s of state.segments) s.done = s.end - s.start + 1;
  await writeFile(statePath, JSON.stringify(state));

  const resumed = resumeWithControlLog(out);
  await resumed.record("verifying", /"to":"verifying"/);
  resumed.proc.kill("SIGINT");
  await resumed.record("the refused pause", /"message":"\\"pause\\" from \\"SIGINT\\" refused/);
  // A second press, not the same press delivered twice: those come within 1 s (see control/signals.ts).
  await Bun.sleep(1100);
  const sent = performance.now();
  resumed.proc.kill("SIGINT");
  const run = await resumed.done;
  const exitMs = performance.now() - sent;
  // Out at once: interrupted, not the integrity failure the finished verification would have reported.
  expect(run.code).toBe(EXIT.INTERRUPTED);
  expect(run.stderr).not.toContain("mismatch");
  expect(exitMs).toBeLessThan(1000);
  // The last checkpoint (the resumed run's first) is whole: `dlm resume` would start from it again.
  expect((await readState(out)).segments).toEqual(state.segments);
}, 60_000);
