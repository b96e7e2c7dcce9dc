import { expect } from "bun:test";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "./bytes.ts";
import { BUN_BIN, MAIN_TS } from "./cli.ts";

/** One `dlm get --limit` run: the file served at `url` (bytes of `seed`), where to run, how. */
export interface HeldRateRun {
  readonly url: string;
  readonly size: number;
  readonly seed?: number;
  readonly connections: number;
  /** The limit, bytes per second. */
  readonly rate: number;
  readonly cwd: string;
}

/**
 * Runs `dlm get URL -c N --limit RATE --json` and returns the rate it held over the limit: the file's size
 * over the time from the server's first answer (the start record's elapsedMs) to the end (the result's
 * seconds), both on dlm's own clock, so neither its start-up nor this process reading the pipe late (under
 * load) counts. This is what a user of --limit sees: the whole download took size / limit.
 */
export async function heldRateRatio(run: HeldRateRun): Promise<number> {
  const args = ["get", run.url, "-o", "l.bin", "-c", String(run.connections), "--limit", String(run.rate)];
  const child = Bun.spawn([BUN_BIN, MAIN_TS, ...args, "--json"], {
    cwd: run.cwd,
    env: { ...process.env, DLM_LOG: "error" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect({ exit: await child.exited, stderr }).toEqual({ exit: EXIT.OK, stderr: "" });
  const records = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const start = records.find((r) => r["type"] === "start");
  const result = records.at(-1);
  expect(result).toMatchObject({ type: "result", bytes: run.size, sha256: sha256Of(run.size, run.seed) });
  const seconds = (result?.["seconds"] as number) - (start?.["elapsedMs"] as number) / 1000;
  return run.size / seconds / run.rate;
}
