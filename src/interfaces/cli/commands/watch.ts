import { buildCommand } from "@stricli/core";
import { clientFlags, fileParameter } from "./client-command.ts";

/**
 * `dlm watch FILE`: the progress of a download started with --listen, fed by its ProgressService stream
 * (Connect protocol over the RPC listener): status and segment map redrawn in place on a TTY (the
 * dashboard's picture in text), plain lines otherwise, `--json` records like `dlm get`. Exits like the download:
 * 0 when it finished, its error's exit code when it failed, CANCELLED, or INTERRUPTED when the process
 * stopped while paused. Without FILE it follows every download of the running dlm serve (watch-all.ts).
 */
export const watchCommand = buildCommand({
  loader: async () => (await import("./watch-run.ts")).runWatch,
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
