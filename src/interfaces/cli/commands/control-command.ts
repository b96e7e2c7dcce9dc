import type { Command } from "../../../control/transitions.ts";
import { HttpStatusError, NetworkError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import type { CliContext } from "../cli-context.ts";
import { findLiveDownload, type LiveDownload, requireLiveDownload, sendCommand } from "../control-client.ts";
import { reportError } from "../report.ts";
import type { ClientFlags } from "./client-command.ts";

// The flags, the FILE positional and the command spec live in client-command.ts (loaded at start); this
// file, with the control client, loads when a client command runs.
export { type ClientFlags, clientFlags, controlCommand, fileParameter } from "./client-command.ts";

/**
 * Sends `command` to a live download and prints the state it led to (`FILE: paused`, or a JSON record).
 * Shared by `pause`, `cancel` and the live path of `resume`.
 */
export async function runLiveCommand(
  cli: CliContext,
  live: LiveDownload,
  command: Command,
  json: boolean,
): Promise<void> {
  const answer = await sendCommand(cli.dlm, live, command);
  if (json) {
    const record = { type: "command", command, output: live.output, ...answer };
    cli.dlm.stdout.write(`${JSON.stringify(record)}\n`);
  } else {
    cli.dlm.stdout.write(`${live.output}: ${answer.state}${answer.changed ? "" : " (unchanged)"}\n`);
  }
  cli.exitCode = EXIT.OK;
}

/**
 * The live half of `dlm resume FILE`: POST /resume to the process named in control.json. False when there is
 * no control.json or nothing there answers as this download (connection refused, or a foreign token: the
 * file is stale), so the caller resumes offline; other failures (e.g. 409) are thrown.
 */
export async function resumeLive(cli: CliContext, file: string, json: boolean): Promise<boolean> {
  const live = await findLiveDownload(cli.dlm, file);
  if (live === undefined) return false;
  try {
    await runLiveCommand(cli, live, "resume", json);
    return true;
  } catch (error) {
    const stale =
      error instanceof NetworkError ||
      (error instanceof HttpStatusError && (error.status === 401 || error.status === 403));
    if (stale) return false;
    throw error;
  }
}

/** The body of a `dlm pause|cancel FILE` command (see client-command.ts's controlCommand). */
export function liveCommandFunc(command: Command) {
  return async function (this: CliContext, flags: ClientFlags, file: string): Promise<void> {
    try {
      await runLiveCommand(this, await requireLiveDownload(this.dlm, file), command, flags.json ?? false);
    } catch (error) {
      this.exitCode = reportError(this, error, flags.json ?? false);
    }
  };
}
