import { UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import { formatRate } from "../../shared/format.ts";
import type { CliContext } from "../cli-context.ts";
import { parseDownloadId } from "../download-id.ts";
import { byteSize } from "../flag-parsers.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";

/** RATE: bytes per second like 512K or 4M; 0 lifts the limit. */
const parseRate = byteSize("RATE", 0);

/** `dlm limit [ID] RATE` (see limit.ts; loaded when run: the Connect client is heavy to load). */
export async function runLimit(this: CliContext, flags: { readonly json?: boolean }, ...args: string[]) {
  const json = flags.json ?? false;
  try {
    if (args.length !== 1 && args.length !== 2) {
      throw new UsageError(`limit: expected [ID] RATE, got ${args.length} arguments`, {
        input: args.join(" "),
      });
    }
    const rate = parseRate(args.at(-1) ?? "");
    const argument = args.length === 2 ? (args[0] ?? "") : undefined;
    const id = argument === undefined ? undefined : parseDownloadId(argument);
    if (argument !== undefined && id === undefined) {
      throw new UsageError(`limit: expected a download id (12 or d12), got ${JSON.stringify(argument)}`, {
        input: argument,
      });
    }
    const { client, server } = await connectToServer(this.dlm);
    if (id === undefined) {
      await callServer(server, () => client.setGlobalLimit({ speedLimit: BigInt(rate) }));
    } else {
      await callServer(server, () =>
        client.update({
          id: BigInt(id),
          download: { speedLimit: BigInt(rate) },
          updateMask: { paths: ["speed_limit"] },
        }),
      );
    }
    const shown = rate === 0 ? "no limit" : formatRate(rate);
    const who = id === undefined ? "all" : String(id);
    this.dlm.stdout.write(
      json
        ? `${JSON.stringify({ type: "limit", id: id ?? null, bytesPerSecond: rate })}\n`
        : `${who}\t${shown}\n`,
    );
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
