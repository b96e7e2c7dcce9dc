import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BatchSet } from "./batch-files.ts";
import type { BatchTool } from "./batch-tools.ts";
import { hashFile } from "./files.ts";
import { measure } from "./measure.ts";
import type { AccessLog } from "./nginx-log.ts";
import type { Pacer } from "./pacer.ts";
import type { MeasuredRun } from "./run-once.ts";
import type { BatchScenario } from "./scenarios.ts";

/** The outcome of one batch run. A run with any wrong or missing file carries no times. */
export type BatchRunResult =
  | { readonly ok: false; readonly failure: string }
  | (MeasuredRun & {
      /** Connections the tool opened and requests it made (pacer scenarios only). */
      readonly connections: number | undefined;
      readonly requests: number | undefined;
    });

/** Everything one batch run needs besides the tool. */
export interface BatchSetup {
  readonly scenario: BatchScenario;
  readonly set: BatchSet;
  /** URL of the batch directory, ending in `/`; a file's URL is this plus its name. */
  readonly baseUrl: string;
  /** Output directory (emptied before and after each run) and a directory for list files. */
  readonly dir: string;
  readonly listDir: string;
  readonly repo: string;
  readonly pacer: Pacer;
  readonly accessLog: AccessLog | undefined;
  readonly timeoutMs: number;
  /** The compiled dlm of this run, for its row. */
  readonly dlmBinary?: string | undefined;
}

const SETTLE_MS = 2000;

/** Runs `tool` on the whole list once, checks the SHA-256 of every output and collects the measurements. */
export async function runBatchOnce(tool: BatchTool, setup: BatchSetup): Promise<BatchRunResult> {
  const { set, dir } = setup;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const viaPacer = setup.scenario.via === "pacer";
  const connections = setup.pacer.reset();
  const logMark = viaPacer ? undefined : await setup.accessLog?.mark();
  const files = set.members.map((m) => ({ url: `${setup.baseUrl}${m.name}`, name: m.name }));
  const argv = await tool.prepare({
    files,
    dir,
    listDir: setup.listDir,
    bun: process.execPath,
    repo: setup.repo,
    dlmBinary: setup.dlmBinary,
  });
  const m = await measure(argv, dir, setup.timeoutMs, join(setup.listDir, "meter"));
  if (viaPacer) await setup.pacer.settle(SETTLE_MS);
  else await Bun.sleep(100); // nginx writes the log line when it has finished with the request
  const fromLog = logMark === undefined ? undefined : await setup.accessLog?.servedSince(logMark);

  const note = m.stderrTail.trim().split("\n").pop()?.slice(0, 160) ?? "";
  const failed = (why: string): BatchRunResult => ({
    ok: false,
    failure: note === "" ? why : `${why}: ${note}`,
  });
  try {
    if (m.timedOut) return failed(`timed out after ${Math.round(setup.timeoutMs / 1000)} s`);
    if (m.exitCode !== 0) return failed(`exit ${m.exitCode}`);
    const reported = tool.reportedSha256?.(m.stdout);
    let hashSeconds = 0;
    const wrong: string[] = [];
    for (const member of set.members) {
      const path = join(dir, member.name);
      const size = (await stat(path).catch(() => undefined))?.size;
      if (size !== set.size) {
        wrong.push(`${member.name}: ${size === undefined ? "missing" : `${size} bytes`}`);
        continue;
      }
      const hash = await hashFile(path);
      hashSeconds += hash.seconds;
      if (hash.sha256 !== member.sha256) wrong.push(`${member.name}: sha256 mismatch`);
      else if (reported !== undefined && reported.get(member.name) !== member.sha256)
        wrong.push(`${member.name}: tool reported sha256 ${reported.get(member.name) ?? "none"}`);
    }
    if (wrong.length > 0) return failed(`${wrong.length} of ${set.members.length} files wrong (${wrong[0]})`);
    return {
      ok: true,
      wallSeconds: m.wallSeconds,
      hashSeconds,
      verifiedSeconds: tool.selfVerifies ? m.wallSeconds : m.wallSeconds + hashSeconds,
      cpuSeconds: m.cpuSeconds,
      peakRssBytes: m.peakRssBytes,
      servedBytes: viaPacer ? connections.reduce((sum, c) => sum + c.bytes, 0) : fromLog?.bytes,
      connections: viaPacer ? connections.length : undefined,
      requests: viaPacer ? connections.reduce((sum, c) => sum + c.requests, 0) : undefined,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
