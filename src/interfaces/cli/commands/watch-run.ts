import type { CliContext } from "../cli-context.ts";
import { requireLiveDownload } from "../control-client.ts";
import { reportError } from "../report.ts";
import type { ClientFlags } from "./client-command.ts";

/** The body of `watchCommand` (watch.ts): loaded when the command runs, so `dlm get` never loads it (issue 24). */
export async function runWatch(
  this: CliContext,
  flags: ClientFlags,
  file: string | undefined,
): Promise<void> {
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
}
