import { realpath } from "node:fs/promises";
import { EXIT, type ExitCode } from "../../exit-codes.ts";
import { logger } from "../../log.ts";
import type { DownloadRecord } from "../../manager/download-record.ts";
import { Manager } from "../../manager/manager.ts";
import { MemoryStore } from "../../manager/memory-store.ts";
import { formatBytes } from "../shared/format.ts";
import { BatchStatus } from "./batch-status.ts";
import type { CliContext } from "./cli-context.ts";
import type { InputEntry } from "./input-file.ts";

/** How a batch runs. */
export interface BatchOptions {
  /** Downloads at once (`-j`). */
  readonly jobs: number;
  /** Connections per download (0 = the default). */
  readonly connections: number;
  /** Speed limit all downloads share, bytes per second (0 = none). */
  readonly limit: number;
  readonly json: boolean;
  /** No status line (result lines and the summary are still written). */
  readonly quiet: boolean;
}

/** Exit code of each failure kind (DlmError.code), for the batch's worst code. */
const EXIT_OF: Readonly<Record<string, ExitCode>> = {
  usage: EXIT.USAGE,
  network: EXIT.NETWORK,
  http_status: EXIT.HTTP_STATUS,
  storage: EXIT.STORAGE,
  integrity: EXIT.INTEGRITY,
  remote_changed: EXIT.REMOTE_CHANGED,
  state_file: EXIT.STATE_FILE,
  range_not_supported: EXIT.RANGE_NOT_SUPPORTED,
  output_exists: EXIT.OUTPUT_EXISTS,
  cancelled: EXIT.CANCELLED,
};

function resultLine(record: DownloadRecord, json: boolean): string {
  if (json) {
    return JSON.stringify(
      record.state === "finished"
        ? {
            type: "result",
            url: record.url,
            path: record.path,
            bytes: record.bytesDownloaded,
            sha256: record.sha256,
          }
        : { type: "error", url: record.url, code: record.failure?.kind, message: record.failure?.message },
    );
  }
  return record.state === "finished"
    ? `${record.path}  ${record.bytesDownloaded} bytes  sha256 ${record.sha256}`
    : `dlm: ${record.failure?.message ?? `${record.url}: failed`}`;
}

/**
 * `dlm get URL URL...` and `dlm get -i FILE -j N`: the manager in this process with an in-memory queue (no
 * database, no daemon): at most `jobs` downloads at once into the current directory, one result line per
 * file as it ends, then a summary; the exit code is the worst (highest) of the failures, 0 when all finished.
 * Ctrl+C pauses every running download (each continues with `dlm resume FILE`) and exits INTERRUPTED.
 */
export async function runBatch(
  cli: CliContext,
  entries: readonly InputEntry[],
  options: BatchOptions,
): Promise<ExitCode> {
  const ctx = cli.dlm;
  const store = new MemoryStore();
  const manager = await Manager.start({
    store,
    ctx,
    dir: ctx.cwd,
    // Resolved once: every file of the batch goes into it (or below it, resolved at its start).
    realDir: await realpath(ctx.cwd),
    maxActive: options.jobs,
    ...(options.connections > 0 ? { defaultConnections: options.connections } : {}),
    retryLater: false,
    globalLimit: options.limit,
    log: logger("control"),
  });
  let ended = 0;
  let worst: ExitCode = EXIT.OK;
  let finished = 0;
  let bytes = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  let interrupted = false;
  const detach = cli.onSignal(() => {
    interrupted = true;
    allDone();
  });
  const status =
    !options.json && !options.quiet && ctx.stderr.isTTY
      ? new BatchStatus(ctx.stderr, entries.length)
      : undefined;
  manager.subscribe((event) => {
    status?.onEvent(event);
    if (event.kind !== "stored" || event.event.kind !== "changed") return;
    const record = event.event.record;
    if (record.state !== "finished" && record.state !== "failed") return;
    status?.clear();
    status?.ended(record.bytesDownloaded);
    const out = record.state === "finished" || options.json ? ctx.stdout : ctx.stderr;
    out.write(`${resultLine(record, options.json)}\n`);
    if (options.json && record.state === "failed") ctx.stderr.write(`${resultLine(record, false)}\n`);
    if (record.state === "finished") {
      finished++;
      bytes += record.bytesDownloaded;
    } else {
      const code = EXIT_OF[record.failure?.kind ?? ""] ?? EXIT.UNEXPECTED;
      worst = Math.max(worst, code) as ExitCode;
    }
    if (++ended === entries.length) allDone();
  });
  try {
    for (const entry of entries) {
      try {
        await manager.add({
          url: entry.url,
          output: entry.out,
          directory: entry.dir ?? "",
          headers: entry.headers,
          mirrors: [],
          checksum: entry.checksum,
          connections: options.connections,
          speedLimit: 0,
          priority: 0,
          labels: [],
          state: "queued",
          requestId: undefined,
        });
      } catch (error) {
        // A bad entry (a dir= outside the current directory...) fails alone; the others still run.
        ctx.stderr.write(`dlm: ${entry.url}: ${(error as Error).message}\n`);
        worst = Math.max(worst, EXIT.USAGE) as ExitCode;
        if (++ended === entries.length) allDone();
      }
    }
    await done;
  } finally {
    detach();
    await manager.stop();
    status?.clear();
  }
  const failed = ended - finished;
  const summary = `dlm: ${entries.length} files: ${finished} finished (${formatBytes(bytes)}), ${failed} failed`;
  if (interrupted) {
    ctx.stderr.write(`${summary}, ${entries.length - ended} paused (continue each with dlm resume FILE)\n`);
    return EXIT.INTERRUPTED;
  }
  ctx.stderr.write(`${summary}\n`);
  if (options.json)
    ctx.stdout.write(
      `${JSON.stringify({ type: "summary", files: entries.length, finished, failed, bytes })}\n`,
    );
  return worst;
}
