/**
 * The stream-following half of `dlm watch`, loaded only when the command runs: Connect's client costs
 * start-up time every other command would pay.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HttpStatusError, NetworkError } from "../../../errors.ts";
import { EXIT, type ExitCode } from "../../../exit-codes.ts";
import { type Progress, ProgressService } from "../../../gen/dlm/v1/progress_pb.ts";
import { ProgressHub } from "../../../progress/hub.ts";
import type { ProgressSnapshot } from "../../../progress/snapshot.ts";
import { DOWNLOAD_STATES, SEGMENT_STATES } from "../../shared/proto-states.ts";
import type { CliContext } from "../cli-context.ts";
import type { LiveDownload } from "../control-client.ts";
import { attachProgressView } from "../progress-view.ts";
import { reportError } from "../report.ts";
import { toSourceProgress } from "../watch-sources.ts";
import { attachWatchView } from "../watch-view.ts";

/** Follows the stream of `live` until the download ends; returns the exit code to mirror. */
export async function watch(cli: CliContext, live: LiveDownload, json: boolean): Promise<ExitCode> {
  const ctx = cli.dlm;
  const transport = createConnectTransport({ baseUrl: live.control.rpc, httpVersion: "2" });
  const client = createClient(ProgressService, transport);
  const hub = new ProgressHub();
  const style = json ? "json" : ctx.stderr.isTTY ? "tty" : "plain";
  // no-color.org: NO_COLOR set to anything but "" turns colours off.
  const color = (ctx.env["NO_COLOR"] ?? "") === "" && ctx.env["TERM"] !== "dumb";
  const detach =
    style === "json"
      ? attachProgressView(hub, style, ctx, () => ctx.monotonic())
      : attachWatchView(hub, style, ctx, () => ctx.monotonic(), color);
  let last: ProgressSnapshot | undefined;
  try {
    const headers = { authorization: `Bearer ${live.control.token}` };
    for await (const message of client.watch({}, { headers })) {
      const snapshot = toSnapshot(message);
      // The TTY view shows the state in place; plain output gets a line per change.
      if (style === "plain" && snapshot.state !== last?.state && snapshot.state !== "running") {
        ctx.stderr.write(`dlm: ${snapshot.download}: ${snapshot.state}\n`);
      }
      last = snapshot;
      hub.publish(snapshot);
    }
  } catch (error) {
    detach();
    return ended(cli, live, last, error, json);
  }
  detach();
  const record = { type: "result", state: "finished", path: live.output, bytes: last?.bytesDownloaded ?? 0 };
  ctx.stdout.write(
    json ? `${JSON.stringify(record)}\n` : `${live.output}  finished  ${record.bytes} bytes\n`,
  );
  return EXIT.OK;
}

/** Reports how the stream ended with an error and returns the exit code that mirrors the download's. */
function ended(
  cli: CliContext,
  live: LiveDownload,
  last: ProgressSnapshot | undefined,
  error: unknown,
  json: boolean,
): ExitCode {
  const connect = ConnectError.from(error);
  // The download's own end (its last message says which), or its process stopping mid-stream (paused by a
  // signal): mirror it. Anything else is this client's problem: wrap it.
  const code =
    last?.state === "failed"
      ? (last.error?.code ?? "unexpected")
      : last?.state === "cancelled"
        ? "cancelled"
        : last !== undefined && connect.code === Code.Unavailable
          ? "interrupted"
          : undefined;
  if (code !== undefined) {
    const exit = exitCodeFor(code);
    cli.dlm.stderr.write(`dlm: ${connect.rawMessage}\n`);
    if (json) {
      const record = { type: "error", code, message: connect.rawMessage, exitCode: exit };
      cli.dlm.stdout.write(`${JSON.stringify(record)}\n`);
    }
    return exit;
  }
  const fields = { url: live.control.rpc, file: live.output, cause: error };
  const wrapped =
    connect.code === Code.Unauthenticated || connect.code === Code.PermissionDenied
      ? new HttpStatusError(`${live.output}: the control plane refused: ${connect.rawMessage}`, fields)
      : new NetworkError(`${live.output}: progress stream failed: ${connect.rawMessage}`, {
          ...fields,
          reason: connect.code === Code.DeadlineExceeded ? "timeout" : "closed",
        });
  return reportError(cli, wrapped, json);
}

/** EXIT entry of a dlm error code (`remote_changed` → EXIT.REMOTE_CHANGED). */
function exitCodeFor(code: string): ExitCode {
  const key = code.toUpperCase();
  return Object.hasOwn(EXIT, key) ? EXIT[key as keyof typeof EXIT] : EXIT.UNEXPECTED;
}

/** The snapshot a Progress message describes, for the terminal renderer. */
function toSnapshot(p: Progress): ProgressSnapshot {
  return {
    download: p.output,
    url: p.url,
    state: DOWNLOAD_STATES[p.state],
    bytesDownloaded: Number(p.bytesDownloaded),
    totalBytes: p.totalBytes === undefined ? undefined : Number(p.totalBytes),
    percent: p.percent,
    bytesPerSecond: p.bytesPerSecond,
    etaSeconds: p.etaSeconds,
    activeConnections: p.activeConnections,
    segments: p.segments.map((g) => ({
      id: g.id,
      start: Number(g.start),
      end: Number(g.end),
      done: Number(g.done),
      worker: g.worker,
      state: SEGMENT_STATES[g.state],
      bytesPerSecond: g.bytesPerSecond,
      slow: g.slow,
      retries: g.retries,
      source: g.source,
    })),
    sources: p.sources.map(toSourceProgress),
    elapsedMs: Number(p.elapsedMs),
    ...(p.failure === undefined ? {} : { error: { code: p.failure.code, message: p.failure.message } }),
  };
}
