/**
 * `dlm watch` without FILE: every download of the running dlm serve, from its WatchAll stream. Loaded only
 * when the command runs (the Connect client costs start-up time).
 */
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EXIT, type ExitCode } from "../../../exit-codes.ts";
import { type Download, DownloadState, WatchAllResponseSchema } from "../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../shared/download-states.ts";
import type { CliContext } from "../cli-context.ts";
import { callServer, connectToServer } from "../service-client.ts";
import { lsLine } from "./ls-run.ts";

/** Shortest time between two redraws of the table on a terminal, ms. */
const REDRAW_MS = 250;

/**
 * Follows WatchAll until Ctrl+C (exit 0) or the daemon stops (NO_SERVER). On a terminal the `dlm ls` table
 * is redrawn in place; otherwise one `dlm ls` line per stored change; `--json` prints each message as the
 * protobuf JSON form.
 */
export async function watchAll(cli: CliContext, json: boolean): Promise<ExitCode> {
  const ctx = cli.dlm;
  const { client, server } = await connectToServer(ctx);
  const stop = new AbortController();
  const detach = cli.onSignal(() => stop.abort());
  const downloads = new Map<bigint, Download>();
  const tty = !json && ctx.stdout.isTTY;
  let drawnLines = 0;
  let drawnAt = Number.NEGATIVE_INFINITY;
  const redraw = (force: boolean) => {
    const now = ctx.monotonic();
    if (!force && now - drawnAt < REDRAW_MS) return;
    drawnAt = now;
    const lines = [...downloads.values()].map(lsLine);
    // Up to the first line of the last drawing, clear to the end of the screen, draw again.
    const up = drawnLines > 0 ? `\x1b[${drawnLines}F` : "";
    ctx.stdout.write(`${up}\x1b[0J${lines.map((l) => `${l}\n`).join("")}`);
    drawnLines = lines.length;
  };
  try {
    await callServer(server, async () => {
      for await (const message of client.watchAll({ sinceSeq: 0n }, { signal: stop.signal, timeoutMs: 0 })) {
        if (json) {
          ctx.stdout.write(`${JSON.stringify(toJson(WatchAllResponseSchema, message))}\n`);
          continue;
        }
        const event = message.event;
        if (event.case === "snapshot") {
          for (const d of event.value.downloads) downloads.set(d.id, d);
          if (!tty) for (const d of event.value.downloads) ctx.stdout.write(`${lsLine(d)}\n`);
        } else if (event.case === "added" || event.case === "changed") {
          const before = downloads.get(event.value.id);
          downloads.set(event.value.id, event.value);
          if (!tty && before?.state !== event.value.state) ctx.stdout.write(`${lsLine(event.value)}\n`);
        } else if (event.case === "progress") {
          downloads.set(event.value.id, event.value);
        } else if (event.case === "removed") {
          downloads.delete(event.value);
          if (!tty) ctx.stdout.write(`${event.value}\t${stateName(DownloadState.REMOVED)}\n`);
        }
        if (tty) redraw(event.case !== "progress" && event.case !== "stats");
      }
    });
    return EXIT.OK;
  } catch (error) {
    if (stop.signal.aborted || (error instanceof ConnectError && error.code === Code.Canceled))
      return EXIT.OK;
    throw error;
  } finally {
    detach();
  }
}
