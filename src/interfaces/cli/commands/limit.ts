import { buildCommand } from "@stricli/core";
import { UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import type { CliContext } from "../cli-context.ts";
import { downloadIdOf } from "../download-id.ts";
import { byteSize } from "../flag-parsers.ts";
import { formatRate } from "../format.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";

/** `dlm limit ID RATE`: set one download's speed limit in the running dlm serve (0 lifts it), at once. */
export const limitCommand = buildCommand({
  async func(this: CliContext, flags: { readonly json?: boolean }, argument: string, rate: number) {
    const json = flags.json ?? false;
    try {
      const id = downloadIdOf(argument, "/nonexistent");
      if (id === undefined) {
        throw new UsageError(`limit: expected a download id (12 or d12), got ${JSON.stringify(argument)}`, {
          input: argument,
        });
      }
      const { client, server } = await connectToServer(this.dlm);
      await callServer(server, () =>
        client.update({
          id: BigInt(id),
          download: { speedLimit: BigInt(rate) },
          updateMask: { paths: ["speed_limit"] },
        }),
      );
      const shown = rate === 0 ? "no limit" : formatRate(rate);
      this.dlm.stdout.write(
        json ? `${JSON.stringify({ type: "limit", id, bytesPerSecond: rate })}\n` : `${id}\t${shown}\n`,
      );
      this.exitCode = EXIT.OK;
    } catch (error) {
      this.exitCode = reportError(this, error, json);
    }
  },
  parameters: {
    flags: { json: { kind: "boolean", brief: "One JSON object", optional: true } },
    positional: {
      kind: "tuple",
      parameters: [
        { brief: "Download id", parse: String, placeholder: "ID" },
        {
          brief: "Bytes per second: 512K, 4M...; 0 lifts the limit",
          parse: byteSize("RATE", 0),
          placeholder: "RATE",
        },
      ],
    },
  },
  docs: { brief: "Set a download's speed limit in the running dlm serve (applies at once)" },
});
