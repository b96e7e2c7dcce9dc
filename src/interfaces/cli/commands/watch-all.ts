/**
 * `dlm watch` without FILE: every download of the running dlm serve, from its WatchAll stream. Loaded only
 * when the command runs (the Connect client costs start-up time).
 */
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EXIT, type ExitCode } from "../../../exit-codes.ts";
import { type Download, DownloadState, WatchAllResponseSchema } from "../../../gen/dlm/v1/download_pb.ts";
import type { SourceProgress } from "../../../progress/snapshot.ts";
import { stateName } from "../../shared/download-states.ts";
import type { CliContext } from "../cli-context.ts";
import { callServer, connectToServer, type ServiceClient } from "../service-client.ts";
import { toSourceProgress } from "../watch-sources.ts";
import { sourceLine } from "../watch-view.ts";
import { lsLine } from "./ls-run.ts";

/** Shortest time between two redraws of the table on a terminal, ms. */
const REDRAW_MS = 250;

/**
 * Follows WatchAll until Ctrl+C (exit 0) or the daemon stops (NO_SERVER). On a terminal the `dlm ls` table
 * is redrawn in place, a running download with mirrors followed by a line per source (its rate and state,
 * from its WatchDownload stream); otherwise one `dlm ls` line per stored change; `--json` prints each
 * message as the protobuf JSON form.
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
    const lines = [...downloads.values()].flatMap((d) => {
      const sources = follower.of(d.id);
      return [lsLine(d), ...(sources.length > 1 ? sources.map(sourceLine) : [])];
    });
    // Up to the first line of the last drawing, clear to the end of the screen, draw again.
    const up = drawnLines > 0 ? `\x1b[${drawnLines}F` : "";
    ctx.stdout.write(`${up}\x1b[0J${lines.map((l) => `${l}\n`).join("")}`);
    drawnLines = lines.length;
  };
  const follower = new SourceFollower(client, stop.signal, () => redraw(false));
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
        if (tty) {
          for (const d of downloads.values()) follower.update(d);
          follower.keepOnly(downloads);
          redraw(event.case !== "progress" && event.case !== "stats");
        }
      }
    });
    return EXIT.OK;
  } catch (error) {
    if (stop.signal.aborted || (error instanceof ConnectError && error.code === Code.Canceled))
      return EXIT.OK;
    throw error;
  } finally {
    follower.stopAll();
    detach();
  }
}

/**
 * The sources of each running download, from a WatchDownload stream per running download (opened when it
 * starts running, closed when it stops, is removed, or the command ends): the table's lines per source.
 */
class SourceFollower {
  readonly #followed = new Map<bigint, { readonly stop: AbortController; sources: SourceProgress[] }>();

  constructor(
    readonly client: ServiceClient["client"],
    readonly signal: AbortSignal,
    readonly changed: () => void,
  ) {}

  /** The last sources heard of download `id` (none while it is not running). */
  of(id: bigint): readonly SourceProgress[] {
    return this.#followed.get(id)?.sources ?? [];
  }

  /** Follows `d` while it runs; stops following it once it does not. */
  update(d: Download): void {
    const entry = this.#followed.get(d.id);
    if (d.state !== DownloadState.RUNNING) {
      entry?.stop.abort();
      this.#followed.delete(d.id);
      return;
    }
    if (entry !== undefined || this.signal.aborted) return;
    const stop = new AbortController();
    const followed = { stop, sources: [] as SourceProgress[] };
    this.#followed.set(d.id, followed);
    void this.#follow(d.id, followed);
  }

  /** Stops following downloads that left the table. */
  keepOnly(downloads: ReadonlyMap<bigint, Download>): void {
    for (const [id, entry] of this.#followed) {
      if (downloads.has(id)) continue;
      entry.stop.abort();
      this.#followed.delete(id);
    }
  }

  stopAll(): void {
    for (const entry of this.#followed.values()) entry.stop.abort();
    this.#followed.clear();
  }

  async #follow(id: bigint, followed: { readonly stop: AbortController; sources: SourceProgress[] }) {
    const signal = AbortSignal.any([this.signal, followed.stop.signal]);
    try {
      for await (const message of this.client.watchDownload({ id }, { signal, timeoutMs: 0 })) {
        followed.sources = (message.progress?.sources ?? []).map(toSourceProgress);
        this.changed();
      }
    } catch {
      // The sources lines are extra detail: a stream that ends (the download finished, was removed, or the
      // daemon went away) only leaves the row without them; WatchAll reports the rest.
    }
    followed.sources = [];
  }
}
