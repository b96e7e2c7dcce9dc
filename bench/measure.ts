import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";

/** GNU time; measures the process tree it waits for. */
const GNU_TIME = "/usr/bin/time";
/** coreutils timeout: kills the command's whole process group when the bound passes. */
const TIMEOUT = "timeout";
/** Exit status of `timeout` when it had to kill the command. */
const TIMED_OUT_STATUS = 124;
const TAIL_CHARS = 600;

/** What one command cost. */
export interface Measured {
  /** Exit status of the command (124 when it was killed by the bound). */
  exitCode: number;
  timedOut: boolean;
  /** Wall time from spawn to exit as the harness saw it, seconds. */
  wallSeconds: number;
  /** performance.now() (ms) just before the spawn, and the same moment as epoch ms (for nginx's $msec). */
  startedAt: number;
  startedEpochMs: number;
  /** performance.now() (ms) when the exit was seen. */
  exitedAt: number;
  /** User + system CPU of the command and its children, seconds. */
  cpuSeconds: number;
  /** Peak resident set size of the largest process, bytes. */
  peakRssBytes: number;
  /** Whole stdout (tools here print at most a result line) and the end of stderr, for failure notes. */
  stdout: string;
  stderrTail: string;
  /** Whole stderr: dlm's JSON log lines when DLM_LOG asks for them (the limit scenario counts its retries). */
  stderr: string;
  /** Which meter produced cpu and rss. */
  meter: "gnu-time" | "rusage";
}

/** True when GNU time is installed; otherwise Bun's rusage of the direct child (`timeout`) is used. */
export function gnuTimeAvailable(): boolean {
  return existsSync(GNU_TIME);
}

/**
 * Runs `argv` in `cwd`, killed after `timeoutMs` (SIGTERM, SIGKILL 5 s later, to its whole process group).
 * CPU and peak RSS come from `/usr/bin/time -f "%e %U %S %M"` when present (it includes every process the
 * command waited for), else from Bun's resourceUsage() of the direct child, which Linux reports including
 * the children it reaped. `scratch` is a path prefix for the meter's file; `meter` forces one (for tests).
 */
export async function measure(
  argv: string[],
  cwd: string,
  timeoutMs: number,
  scratch: string,
  meter: Measured["meter"] = gnuTimeAvailable() ? "gnu-time" : "rusage",
): Promise<Measured> {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const bounded = [TIMEOUT, "--kill-after=5", String(seconds), ...argv];
  const useTime = meter === "gnu-time";
  const timeFile = `${scratch}.time`;
  const full = useTime ? [GNU_TIME, "-f", "%e %U %S %M", "-o", timeFile, ...bounded] : bounded;
  const startedEpochMs = Date.now();
  const started = performance.now();
  const proc = Bun.spawn(full, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  // A backstop in case timeout itself hangs: the harness must always come back.
  const backstop = setTimeout(() => proc.kill("SIGKILL"), timeoutMs + 15_000);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const exitedAt = performance.now();
  const wallSeconds = (exitedAt - started) / 1000;
  clearTimeout(backstop);
  const base = {
    exitCode,
    timedOut: exitCode === TIMED_OUT_STATUS || proc.signalCode === "SIGKILL",
    wallSeconds,
    startedAt: started,
    startedEpochMs,
    exitedAt,
    stdout,
    stderrTail: stderr.slice(-TAIL_CHARS),
    stderr,
  };
  if (useTime) {
    const line = (await readFile(timeFile, "utf8").catch(() => "")).trim().split("\n").pop() ?? "";
    await rm(timeFile, { force: true });
    const [, user, sys, rssKiB] = line.split(" ").map(Number);
    if (user === undefined || sys === undefined || rssKiB === undefined || Number.isNaN(rssKiB)) {
      throw new Error(`bench: unreadable /usr/bin/time output ${JSON.stringify(line)} for ${argv.join(" ")}`);
    }
    return { ...base, cpuSeconds: user + sys, peakRssBytes: rssKiB * 1024, meter: "gnu-time" };
  }
  const usage = proc.resourceUsage();
  return {
    ...base,
    cpuSeconds: usage === undefined ? Number.NaN : Number(usage.cpuTime.total) / 1e6,
    peakRssBytes: usage?.maxRSS ?? Number.NaN,
    meter: "rusage",
  };
}
