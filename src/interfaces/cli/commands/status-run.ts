import { EXIT } from "../../../exit-codes.ts";
import type { CliContext } from "../cli-context.ts";
import { fetchStatus, requireLiveDownload } from "../control-client.ts";
import { reportError } from "../report.ts";
import type { ClientFlags } from "./client-command.ts";
import { statusText } from "./status.ts";

/** The body of `statusCommand` (status.ts): loaded when the command runs, so `dlm get` never loads it (issue 24). */
export async function runStatus(this: CliContext, flags: ClientFlags, file: string): Promise<void> {
  try {
    const status = await fetchStatus(this.dlm, await requireLiveDownload(this.dlm, file));
    this.dlm.stdout.write(flags.json === true ? `${JSON.stringify(status)}\n` : statusText(status));
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, flags.json ?? false);
  }
}
