import { rm, stat } from "node:fs/promises";
import type { BenchFile } from "./files.ts";
import { hashFile } from "./files.ts";
import { type Ideal, idealOf } from "./ideal.ts";
import { type Measured, measure } from "./measure.ts";
import type { AccessLog } from "./nginx-log.ts";
import type { Pacer } from "./pacer.ts";
import type { Scenario } from "./scenarios.ts";
import { leftovers, type Tool } from "./tools.ts";

/** What every measured run reports, single file or batch. */
export interface MeasuredRun {
  readonly ok: true;
  /** Spawn to exit, seconds. */
  readonly wallSeconds: number;
  /** Separate SHA-256 of the output(s) by the harness, seconds. */
  readonly hashSeconds: number;
  /** wall for tools that verify themselves, else wall + hash. */
  readonly verifiedSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  /** Body bytes the server side sent, or undefined when not counted. */
  readonly servedBytes: number | undefined;
}

/** The outcome of one tool run. A failed run carries no times: a wrong output is never a time. */
export type RunResult =
  | { readonly ok: false; readonly failure: string }
  | (MeasuredRun & {
      /** Capped scenarios only. */
      readonly ideal: Ideal | undefined;
      /**
       * Spawn → the server side starting to send the first body byte (any request, a probe's one byte
       * included), seconds. Pacer: when the first body part started on its way; nginx: when the first request
       * that got body bytes arrived (ms resolution). Undefined when not seen.
       */
      readonly firstByteSeconds: number | undefined;
      /** Last body byte leaving the pacer → verified file (exit, plus the hash when the tool has none). */
      readonly lastByteToVerifiedSeconds: number | undefined;
    });

/** Everything one run needs besides the tool. */
export interface RunSetup {
  readonly scenario: Scenario;
  readonly file: BenchFile;
  readonly url: string;
  readonly out: string;
  /** Repo root: dlm runs as `bun src/main.ts` from here. */
  readonly repo: string;
  readonly pacer: Pacer;
  readonly accessLog: AccessLog | undefined;
  readonly timeoutMs: number;
  /** The compiled dlm of this run, for the binary rows. */
  readonly dlmBinary?: string | undefined;
}

const SETTLE_MS = 2000;

/** Runs `tool` once in `setup`, checks the output's SHA-256 and collects the measurements. */
export async function runOnce(tool: Tool, setup: RunSetup): Promise<RunResult> {
  const { scenario, file, out } = setup;
  await clean(out);
  const viaPacer = scenario.via === "pacer";
  const connections = setup.pacer.reset();
  const logMark = viaPacer ? undefined : await setup.accessLog?.mark();
  const argv = tool.argv({
    url: setup.url,
    out,
    sha256: file.sha256,
    bun: process.execPath,
    size: file.size,
    dlmBinary: setup.dlmBinary,
  });
  const m = await measure(argv, setup.repo, setup.timeoutMs, out);
  if (viaPacer) await setup.pacer.settle(SETTLE_MS);
  else await Bun.sleep(100); // nginx writes the log line when it has finished with the request
  const fromLog = logMark === undefined ? undefined : await setup.accessLog?.servedSince(logMark);
  const served = viaPacer ? connections.reduce((sum, c) => sum + c.bytes, 0) : fromLog?.bytes;
  const firstByteMs = viaPacer
    ? Math.min(...connections.map((c) => c.firstByteAt ?? Number.POSITIVE_INFINITY)) - m.startedAt
    : (fromLog?.firstBodyRequestAtEpochMs ?? Number.NaN) - m.startedEpochMs;

  try {
    const checked = await checkOutput(tool, m, setup);
    if (!checked.ok) return checked;
    const verifiedSeconds = tool.selfVerifies ? m.wallSeconds : m.wallSeconds + checked.seconds;
    const lastByteAt = Math.max(...connections.map((c) => c.lastByteAt ?? Number.NEGATIVE_INFINITY));
    const lastByteToExit =
      viaPacer && Number.isFinite(lastByteAt) ? (m.exitedAt - lastByteAt) / 1000 : undefined;
    return {
      ok: true,
      wallSeconds: m.wallSeconds,
      hashSeconds: checked.seconds,
      verifiedSeconds,
      cpuSeconds: m.cpuSeconds,
      peakRssBytes: m.peakRssBytes,
      servedBytes: served,
      ideal:
        scenario.mode.rateBytesPerSec === undefined
          ? undefined
          : idealOf(connections, file.size, scenario.mode.latencyMs ?? 0),
      firstByteSeconds: Number.isFinite(firstByteMs) ? firstByteMs / 1000 : undefined,
      lastByteToVerifiedSeconds:
        lastByteToExit === undefined ? undefined : lastByteToExit + (tool.selfVerifies ? 0 : checked.seconds),
    };
  } finally {
    await clean(out);
  }
}

/**
 * Checks one finished run the same way in every scenario: not timed out, exit 0, the output present with the
 * file's size, the digest the tool printed (if any) and the harness's own SHA-256 both right. Returns the
 * failure (with the last stderr line) or the hash time, which "to verified" adds for tools that do not verify.
 */
export async function checkOutput(
  tool: Pick<Tool, "reportedSha256">,
  m: Measured,
  setup: { readonly file: BenchFile; readonly out: string; readonly timeoutMs: number },
): Promise<
  { readonly ok: false; readonly failure: string } | { readonly ok: true; readonly seconds: number }
> {
  const { file, out } = setup;
  const note = m.stderrTail.trim().split("\n").pop()?.slice(0, 160) ?? "";
  const failed = (why: string) => ({ ok: false, failure: note === "" ? why : `${why}: ${note}` }) as const;
  if (m.timedOut) return failed(`timed out after ${Math.round(setup.timeoutMs / 1000)} s`);
  if (m.exitCode !== 0) return failed(`exit ${m.exitCode}`);
  const size = (await stat(out).catch(() => undefined))?.size;
  if (size === undefined) return failed("no output file");
  if (size !== file.size) return failed(`output has ${size} bytes, expected ${file.size}`);
  const reported = tool.reportedSha256?.(m.stdout);
  if (reported !== undefined && reported !== file.sha256) return failed(`tool reported sha256 ${reported}`);
  const hash = await hashFile(out);
  if (hash.sha256 !== file.sha256) return failed(`sha256 mismatch (${hash.sha256.slice(0, 12)}...)`);
  return { ok: true, seconds: hash.seconds };
}

/** Removes the output and any control file a tool leaves next to it (dlm's FILE.dlm is a directory). */
export async function clean(out: string): Promise<void> {
  await Promise.all(leftovers(out).map((path) => rm(path, { recursive: true, force: true })));
}
