import { RemoteChangedError, UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import type { CliContext } from "../cli-context.ts";
import { parseDownloadId } from "../download-id.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";
import type { UpdateFlags } from "./update.ts";

/** `dlm update ID --url URL` (see update.ts; loaded when run: the Connect client is heavy to load). */
export async function runUpdate(this: CliContext, flags: UpdateFlags, argument: string) {
  const json = flags.json ?? false;
  try {
    const id = parseDownloadId(argument);
    if (id === undefined) {
      throw new UsageError(`update: expected a download id (12 or d12), got ${JSON.stringify(argument)}`, {
        input: argument,
      });
    }
    const { client, server } = await connectToServer(this.dlm);
    const { Code, ConnectError } = await import("@connectrpc/connect");
    const { download } = await callServer(server, () =>
      client.update({
        id: BigInt(id),
        download: { url: flags.url },
        updateMask: { paths: ["url"] },
        restart: flags.restart ?? false,
      }),
    ).catch((error: unknown) => {
      // The service's word for "another file" (download-service.ts): exit 7 as for dlm get.
      if (error instanceof ConnectError && error.code === Code.Aborted) {
        throw new RemoteChangedError(error.rawMessage, {
          url: flags.url,
          hint: "add --restart to start over",
        });
      }
      throw error;
    });
    this.dlm.stdout.write(
      json
        ? `${JSON.stringify({ type: "update", id, url: download?.url ?? flags.url, restart: flags.restart ?? false })}\n`
        : `${id}\t${download?.url ?? flags.url}\n`,
    );
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
