import type { BenchFile } from "./files.ts";
import { countDlmRetries, type DlmRetries } from "./limit-log.ts";
import type { LimitTool } from "./limit-tools.ts";
import { measure } from "./measure.ts";
import type { Pacer } from "./pacer.ts";
import { checkOutput, clean, type MeasuredRun } from "./run-once.ts";

/** The outcome of one run under a speed limit. A failed run carries no times. */
export type LimitRunResult =
  | { readonly ok: false; readonly failure: string }
  | (MeasuredRun & {
      /** Spawn → the pacer starting to send the first body byte of any request, seconds. */
      readonly firstByteSeconds: number | undefined;
      /**
       * File size / (wall − first byte) in bytes/s: the rate from the first body byte to the tool's exit, so
       * process start-up and the probe's round trip are not counted against the tool, while the tail after
       * the last byte (fsync, rename, exit) is. Falls back to size / wall when no first byte was seen.
       */
      readonly achievedBytesPerSec: number;
      /** Connections opened and requests made, as the pacer counted them. */
      readonly connections: number;
      readonly requests: number;
      /** dlm only: stall retries and other re-requests from its worker log. */
      readonly retries: DlmRetries | undefined;
    });

/** Everything one limit run needs besides the tool. */
export interface LimitSetup {
  readonly file: BenchFile;
  /** The file's URL through the pacer (configured by the caller with the per-connection cap). */
  readonly url: string;
  readonly out: string;
  readonly repo: string;
  readonly pacer: Pacer;
  readonly timeoutMs: number;
  readonly limitBytesPerSec: number;
  readonly stallTimeoutMs: number;
}

const SETTLE_MS = 2000;

/**
 * Runs `tool` once at its own limit flag, checks the output as every scenario does (exit, size, SHA-256),
 * and measures the rate it held. The pacer's own timestamps cannot stand for the end: under a limit the
 * kernel's socket buffers (megabytes on loopback) take the last bytes long before the tool reads them, so the
 * window ends at the tool's exit.
 */
export async function runLimitOnce(tool: LimitTool, setup: LimitSetup): Promise<LimitRunResult> {
  const { file, out } = setup;
  await clean(out);
  const connections = setup.pacer.reset();
  const argv = tool.argv({
    url: setup.url,
    out,
    sha256: file.sha256,
    bun: process.execPath,
    size: file.size,
    limitBytesPerSec: setup.limitBytesPerSec,
    stallTimeoutMs: setup.stallTimeoutMs,
  });
  const m = await measure(argv, setup.repo, setup.timeoutMs, out);
  await setup.pacer.settle(SETTLE_MS);
  try {
    const checked = await checkOutput(tool, m, setup);
    if (!checked.ok) return checked;
    const firstByteMs =
      Math.min(...connections.map((c) => c.firstByteAt ?? Number.POSITIVE_INFINITY)) - m.startedAt;
    const firstByteSeconds = Number.isFinite(firstByteMs) ? firstByteMs / 1000 : undefined;
    return {
      ok: true,
      wallSeconds: m.wallSeconds,
      hashSeconds: checked.seconds,
      verifiedSeconds: tool.selfVerifies ? m.wallSeconds : m.wallSeconds + checked.seconds,
      cpuSeconds: m.cpuSeconds,
      peakRssBytes: m.peakRssBytes,
      servedBytes: connections.reduce((sum, c) => sum + c.bytes, 0),
      firstByteSeconds,
      achievedBytesPerSec: file.size / (m.wallSeconds - (firstByteSeconds ?? 0)),
      connections: connections.length,
      requests: connections.reduce((sum, c) => sum + c.requests, 0),
      retries: tool.logsRetries ? countDlmRetries(m.stderr) : undefined,
    };
  } finally {
    await clean(out);
  }
}
