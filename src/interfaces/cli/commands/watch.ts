import { buildCommand } from "@stricli/core";
import type { CliContext } from "../cli-context.ts";
import { requireLiveDownload } from "../control-client.ts";
import { reportError } from "../report.ts";
import { type ClientFlags, clientFlags, fileParameter } from "./control-command.ts";

/**
 * `dlm watch FILE`: the progress of a download started with --listen, fed by its ProgressService stream
 * (Connect protocol over the RPC listener): status and segment map redrawn in place on a TTY (the
 * dashboard's picture in text), plain lines otherwise, `--json` records like `dlm get`. Exits like the download:
 * 0 when it finished, its error's exit code when it failed, CANCELLED, or INTERRUPTED when the process
 * stopped while paused. Without FILE it follows every download of the running dlm serve (watch-all.ts).
 */
export const watchCommand = buildCommand({
  async func(this: CliContext, flags: ClientFlags, file: string | undefined) {
    const json = flags.json ?? false;
    try {
      if (file === undefined) {
        const { watchAll } = await import("./watch-all.ts");
        this.exitCode = await watchAll(this, json);
        return;
      }
      // Find the download first: it may end while the stream client loads.
      const live = await requireLiveDownload(this.dlm, file);
      const { watch } = await import("./watch-stream.ts");
      this.exitCode = await watch(this, live, json);
    } catch (error) {
      this.exitCode = reportError(this, error, json);
    }
  },
  parameters: {
    flags: clientFlags,
    positional: {
      kind: "tuple",
      parameters: [{ ...fileParameter.parameters[0], optional: true }],
    },
  },
  docs: {
    brief:
      "Show the live progress of a download started with --listen until it ends; without FILE, every download of dlm serve",
  },
});
