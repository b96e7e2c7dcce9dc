import { toJson } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import { type Download, DownloadSchema } from "../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../shared/download-states.ts";
import { formatBytes, formatRate } from "../../shared/format.ts";
import type { CliContext } from "../cli-context.ts";
import { parseDownloadId } from "../download-id.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";

/** A download as one JSON object: the proto's JSON form (uint64 as strings, states as enum names). */
function jsonOf(download: Download): unknown {
  return toJson(DownloadSchema, download, { alwaysEmitImplicit: true });
}

function progressOf(download: Download): string {
  const done = Number(download.bytesDownloaded);
  const total = download.totalBytes === undefined ? undefined : Number(download.totalBytes);
  if (total === undefined) return formatBytes(done);
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  return `${percent}% of ${formatBytes(total)}`;
}

/**
 * One line of `dlm ls`: id, state, progress, rate, name, why it failed or when it retries, and the node
 * that runs it.
 */
export function lsLine(download: Download): string {
  const name = download.path || download.output || download.url;
  const rate = download.bytesPerSecond > 0 ? formatRate(download.bytesPerSecond) : "-";
  let note = "";
  if (download.failure !== undefined && download.failure.message !== "")
    note = `  (${download.failure.message})`;
  if (download.nextTryTime !== undefined) {
    note += `  next try ${new Date(timestampMs(download.nextTryTime)).toISOString()}`;
  }
  // Which `dlm serve` runs it, when several share one queue (dlm serve --store postgres://...).
  if (download.node !== "") note += `  on ${download.node}`;
  return `${download.id}\t${stateName(download.state)}\t${progressOf(download)}\t${rate}\t${name}${note}`;
}

/** `dlm ls` (see ls.ts; loaded when run: the Connect client and protobuf are heavy to load). */
export async function runLs(this: CliContext, flags: { readonly json?: boolean }) {
  const json = flags.json ?? false;
  try {
    const { client, server } = await connectToServer(this.dlm);
    let pageToken = "";
    do {
      const page = await callServer(server, () => client.list({ pageToken }));
      for (const download of page.downloads) {
        this.dlm.stdout.write(json ? `${JSON.stringify(jsonOf(download))}\n` : `${lsLine(download)}\n`);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}

/** `dlm info ID` (see ls.ts). */
export async function runInfo(this: CliContext, flags: { readonly json?: boolean }, argument: string) {
  const json = flags.json ?? false;
  try {
    const id = parseDownloadId(argument);
    if (id === undefined)
      throw new UsageError(`info: expected a download id (12 or d12), got ${JSON.stringify(argument)}`, {
        input: argument,
      });
    const { client, server } = await connectToServer(this.dlm);
    const { download } = await callServer(server, () => client.get({ id: BigInt(id) }));
    if (download === undefined) throw new UsageError(`download ${id} not found`, { input: argument });
    if (json) {
      this.dlm.stdout.write(`${JSON.stringify(jsonOf(download))}\n`);
    } else {
      const fields = jsonOf(download) as Record<string, unknown>;
      for (const [key, value] of Object.entries(fields)) {
        this.dlm.stdout.write(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}\n`);
      }
    }
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
