import { Controller } from "../../control/controller.ts";
import { handleSignals } from "../../control/signals.ts";
import type { DownloadRequest } from "../../engine/download-request.ts";
import type { PreparedDownload } from "../../engine/prepare.ts";
import type { VerifiedFile } from "../../engine/verify.ts";
import { EXIT } from "../../exit-codes.ts";
import { logger } from "../../log.ts";
import type { ControlPlane } from "../control-plane.ts";
import { formatBytes, formatDuration, formatRate } from "../shared/format.ts";
import { dashboardUrl, type ListenAddress } from "../shared/listener.ts";
import type { CliContext } from "./cli-context.ts";
import { attachProgressView, type ProgressStyle } from "./progress-view.ts";
import { reportError } from "./report.ts";

/** Output choices shared by `get` and `resume`. */
export interface OutputOptions {
  readonly json: boolean;
  readonly quiet: boolean;
  /** Start a control plane on this address (`--listen`); a pause then waits for resume or cancel. */
  readonly listen?: ListenAddress | undefined;
}

/**
 * Runs one download for a CLI command: progress on the terminal, Ctrl+C to pause, the result line, and the
 * exit code on `cli.exitCode`.
 */
export async function runDownloadCommand(
  cli: CliContext,
  request: DownloadRequest,
  options: OutputOptions,
): Promise<void> {
  const ctx = cli.dlm;
  const started = ctx.monotonic();
  let plane: ControlPlane | undefined;
  // The control record promises that `dlm status FILE` works: it is printed once control.json is written,
  // which needs the sidecar's name, known only after the server's first answer (it may name the file).
  let controlRecord: Promise<void> | undefined;
  const controller = new Controller(ctx, request, logger("engine"), {
    onPrepared: (prepared) => {
      announce(cli, prepared, options, ctx.monotonic() - started);
      if (plane === undefined) return;
      const written = plane.writeControlFile(prepared.sidecar);
      const record = controlRecordOf(plane);
      // Later runs (after a pause) prepare again: the record is printed once.
      if (options.json && controlRecord === undefined) {
        controlRecord = written.then(() => ctx.stdout.write(`${JSON.stringify(record)}\n`));
      }
    },
  });
  if (options.listen !== undefined) {
    try {
      // Loaded only with --listen: the servers (Elysia, Connect) cost ~0.3 s of start-up otherwise.
      const { startControlPlane } = await import("../control-plane.ts");
      plane = await startControlPlane(controller, {
        listen: options.listen,
        log: logger("http"),
        rpcLog: logger("rpc"),
      });
    } catch (error) {
      cli.exitCode = reportError(cli, error, options.json);
      return;
    }
    controller.keepAliveWhenPaused(true);
    // The dashboard link carries the token in its fragment: printed for the user, never logged.
    const dashboard = dashboardUrl(plane.http, plane.token);
    ctx.stderr.write(
      `dlm: control API ${plane.http}, progress stream ${plane.rpc} (token in FILE.dlm/control.json)\n` +
        `dlm: dashboard ${dashboard}\n`,
    );
  }
  const style: ProgressStyle = options.json
    ? "json"
    : options.quiet
      ? "none"
      : ctx.stderr.isTTY
        ? "tty"
        : "plain";
  const detachView = attachProgressView(controller.hub, style, ctx, () => ctx.monotonic());
  const detachSignals = handleSignals(
    controller,
    cli.onSignal,
    () => cli.exitNow(EXIT.INTERRUPTED),
    () => ctx.monotonic(),
  );
  try {
    const result = await controller.run();
    await controlRecord;
    detachView();
    printResult(cli, result, (ctx.monotonic() - started) / 1000, options);
    cli.exitCode = EXIT.OK;
  } catch (error) {
    await controlRecord;
    detachView();
    cli.exitCode = reportError(cli, error, options.json);
  } finally {
    detachSignals();
    await plane?.stop();
  }
}

/** The `--json` record that says where the control plane listens (the token stays in control.json). */
function controlRecordOf(plane: ControlPlane): Record<string, string> {
  return {
    type: "control",
    http: plane.http,
    rpc: plane.rpc,
    dashboard: dashboardUrl(plane.http, plane.token),
  };
}

/** `elapsedMs`: since the command began (the result's `seconds` counts from there too). */
function announce(
  cli: CliContext,
  prepared: PreparedDownload,
  options: OutputOptions,
  elapsedMs: number,
): void {
  const total = prepared.last === undefined ? undefined : prepared.last - prepared.first + 1;
  const done = prepared.segments.reduce((sum, s) => sum + s.done, 0);
  // Connections that can be busy at once: no request is smaller than --min-split, so a small remainder (or
  // a large --min-split) uses fewer than asked for; nothing left to fetch uses none.
  const remaining = total === undefined ? undefined : total - done;
  const used =
    prepared.mode !== "range"
      ? 1
      : remaining === undefined || remaining <= 0
        ? 0
        : Math.min(
            prepared.request.connections,
            Math.max(1, Math.floor(remaining / prepared.request.minSplitBytes)),
          );
  if (options.json) {
    const record = {
      type: "start",
      url: prepared.remote.url,
      output: prepared.output,
      total: total ?? null,
      resumed: prepared.resumed,
      alreadyDone: done,
      connections: used,
      ranges: prepared.mode === "range",
      storage: prepared.state.storage,
      // The server's first answer is in (its body is the first segment's): a rate from here to the result's
      // `seconds` leaves start-up out.
      elapsedMs: Math.round(elapsedMs),
    };
    cli.dlm.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }
  if (options.quiet) return;
  const size = total === undefined ? "size unknown" : formatBytes(total);
  const lines: string[] = [];
  if (prepared.resumed) {
    lines.push(
      `dlm: resuming ${prepared.output}: ${formatBytes(done)} of ${size} already here, fetching the rest`,
    );
  } else {
    const connections = `${used} connection${used === 1 ? "" : "s"}`;
    lines.push(`dlm: ${prepared.remote.url} -> ${prepared.output} (${size}, ${connections})`);
  }
  const sum = prepared.request.checksum;
  if (sum?.source !== undefined && sum.hex === prepared.state.checksum?.hex) {
    lines.push(`dlm: expecting ${sum.algorithm} ${sum.hex} from ${sum.source}`);
  }
  if (prepared.mode === "stream") {
    const why = prepared.remote.acceptsRanges
      ? "did not say the file's size"
      : "does not support byte ranges";
    lines.push(
      `dlm: the server ${why}: downloading over one connection; an interrupted run restarts from the beginning`,
    );
  }
  cli.dlm.stderr.write(`${lines.join("\n")}\n`);
}

/** Why a file without a known size is called unverified, and what would settle it. */
const UNVERIFIED_NOTE =
  "the server sent no size, so a cut connection cannot be told from the end; pass --checksum to verify";

function printResult(cli: CliContext, result: VerifiedFile, seconds: number, options: OutputOptions): void {
  const rate = seconds > 0 ? result.bytes / seconds : 0;
  if (options.json) {
    const record = {
      type: "result",
      path: result.path,
      bytes: result.bytes,
      sha256: result.sha256,
      checksum: result.checked === undefined ? null : { ...result.checked, ok: true },
      completeness: result.completeness,
      ...(result.completeness === "unverified" ? { note: UNVERIFIED_NOTE } : {}),
      seconds: Number(seconds.toFixed(3)),
      bytesPerSecond: Math.round(rate),
    };
    cli.dlm.stdout.write(`${JSON.stringify(record)}\n`);
    return;
  }
  const from = result.checked?.source === undefined ? "" : ` (from ${result.checked.source})`;
  const checked = result.checked === undefined ? "" : `  ${result.checked.algorithm} OK${from}`;
  const unverified = result.completeness === "unverified" ? `  unverified: ${UNVERIFIED_NOTE}` : "";
  cli.dlm.stdout.write(
    `${result.path}  ${result.bytes} bytes  sha256 ${result.sha256}${checked}  ${formatDuration(seconds)}  ${formatRate(rate)}${unverified}\n`,
  );
}
