import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { sidecarOf } from "../../../engine/prepare.ts";
import { readStateFile, statePath } from "../../../engine/state-file.ts";
import { StateFileError } from "../../../errors.ts";
import type { CliContext } from "../cli-context.ts";
import { listenAddress } from "../listen-address.ts";
import { reportError } from "../report.ts";
import { runDownloadCommand } from "../run-download.ts";
import { resumeLive } from "./control-command.ts";
import { requestFromFlags } from "./get.ts";
import type { ResumeFlags } from "./resume-flags.ts";

export { type ResumeFlags, resumeFlags } from "./resume-flags.ts";

/**
 * `dlm resume FILE`: resume the live process of FILE through its control plane when one answers; otherwise
 * continue the unfinished download recorded in FILE.dlm/state.json in this process. (`dlm resume ID` of
 * dlm serve is the other form; queue-control.ts tells them apart.)
 */
export async function resumeFile(cli: CliContext, flags: ResumeFlags, file: string): Promise<void> {
  const json = flags.json ?? false;
  try {
    const listen = listenAddress(flags.listen, flags.listenAny ?? false);
    if (await resumeLive(cli, file, json)) return;
    const output = resolve(cli.dlm.cwd, file);
    const sidecar = sidecarOf(output);
    if (existsSync(sidecar) && !existsSync(statePath(sidecar))) {
      // Stopped (a crash, kill -9) before its first checkpoint: nothing was vouched for, so nothing is lost.
      throw new StateFileError(
        `${sidecar} has no saved state yet (the download stopped before its first checkpoint): start it again with dlm get URL -o ${file}`,
        { file: statePath(sidecar) },
      );
    }
    const state = await readStateFile(sidecar);
    const request = requestFromFlags(state.url, {
      ...flags,
      output,
      ...(state.slice === undefined ? {} : { rangeStart: state.slice.start, rangeEnd: state.slice.end }),
    });
    await runDownloadCommand(cli, request, { json, quiet: flags.quiet ?? false, listen });
  } catch (error) {
    cli.exitCode = reportError(cli, error, json);
  }
}
