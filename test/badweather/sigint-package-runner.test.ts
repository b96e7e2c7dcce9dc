// Ctrl+C as a terminal delivers it: to the whole foreground process group. Through `bun run dlm` the package
// runner is in that group too and passes the signal on, so dlm receives two SIGINTs within milliseconds of
// one press. One press must still be one truthful pause: "paused" on stderr, exit INTERRUPTED, and state.json
// vouching for what was fetched (resume fetches only the missing bytes). When a second press counts as one is
// a table of cases in test/control/signals.test.ts.
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { missingOf, progressAtLeast, REPO, readState, runDlm, sha256File, vouchedBytes } from "./harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 8 * MiB;
const CONNECTIONS = 4;
/** Per connection; 4 connections fetch the file in about 4 s, so a pause lands mid-way. */
const RATE = 512 * KiB;
const BUN = join(REPO, "node_modules/.bin/bun");

let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-sigint-run-"));
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => origin.resetStats());

/**
 * `bun run dlm ...args` from the repository, as README says, in a new session (setsid) so that the test can
 * signal its whole process group the way a terminal does. Resolves stdout lines as they arrive.
 */
function startThroughRunner(args: readonly string[]) {
  const proc = Bun.spawn([BUN, "run", "dlm", ...args], {
    cwd: REPO,
    detached: true,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, DLM_LOG: "warning" },
  });
  let stdout = "";
  let onLine: (() => void) | undefined;
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      onLine?.();
    }
  })();
  const stderr = new Response(proc.stderr).text();
  return {
    proc,
    /** Signals every process in the group: the package runner and dlm, as Ctrl+C in a terminal does. */
    press: () => process.kill(-proc.pid, "SIGINT"),
    line: (match: (line: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const hit = stdout.split("\n").slice(0, -1).find(match);
          if (hit !== undefined) {
            onLine = undefined;
            resolve(hit);
          }
        };
        onLine = check;
        check();
        proc.exited.then((code) => reject(new Error(`exited (${code}) before the line; stdout ${stdout}`)));
      }),
    done: (async () => {
      const code = await proc.exited;
      await reading;
      return { code, stdout, stderr: await stderr };
    })(),
  };
}

test("one Ctrl+C through `bun run dlm` is one truthful pause", async () => {
  const url = origin.serve("/runner.bin", { size: SIZE, throttleBytesPerSec: RATE });
  const out = join(dir, "runner.bin");
  const running = startThroughRunner(["get", url, "-o", out, "-c", String(CONNECTIONS), "--json"]);
  await running.line(progressAtLeast(2 * MiB));
  running.press();
  const run = await running.done;
  expect(run.code).toBe(EXIT.INTERRUPTED);
  // The pause path says so and names the command; the exit-at-once path says nothing.
  expect(run.stderr).toContain("paused (SIGINT)");
  expect(run.stderr).toContain(`dlm resume ${out}`);
  const vouched = await vouchedBytes(out);
  const missing = missingOf((await readState(out)).segments);
  expect(vouched + missing).toBe(SIZE);
  // The probe's one byte is not part of the download. A truthful pause vouches for everything served but
  // what was still in flight (about one read chunk per connection); the exit-at-once path vouched only for
  // the last periodic checkpoint, up to a second (2 MiB here) behind.
  const servedBeforePause = origin.stats.bytesServed - 1;
  expect(servedBeforePause - vouched).toBeLessThanOrEqual(CONNECTIONS * 64 * KiB);

  origin.resetStats();
  const resumed = await runDlm(["resume", out, "-c", String(CONNECTIONS), "--quiet"], dir);
  expect(resumed.code).toBe(EXIT.OK);
  expect(await sha256File(out)).toBe(sha256Of(SIZE));
  expect(Math.abs(origin.stats.bytesServed - 1 - missing)).toBeLessThanOrEqual(CONNECTIONS * 64 * KiB);
});
