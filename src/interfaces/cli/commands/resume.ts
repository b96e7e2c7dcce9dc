import { resolve } from "node:path";
import { buildCommand } from "@stricli/core";
import { sidecarOf } from "../../../engine/prepare.ts";
import { readStateFile } from "../../../engine/state-file.ts";
import type { CliContext } from "../cli-context.ts";
import { outputPath } from "../flag-parsers.ts";
import { type ListenFlags, listenAddress, listenFlags } from "../listen-address.ts";
import { reportError } from "../report.ts";
import { runDownloadCommand } from "../run-download.ts";
import { resumeLive } from "./control-command.ts";
import { downloadFlags, type GetFlags, requestFromFlags } from "./get.ts";

type ResumeFlags = Pick<
  GetFlags,
  "connections" | "json" | "quiet" | "stallTimeout" | "retries" | "checkpointInterval"
> &
  ListenFlags & {
    readonly restart?: boolean;
  };

/**
 * `dlm resume FILE`: resume the live process of FILE through its control plane when one answers; otherwise
 * continue the unfinished download recorded in FILE.dlm/state.json in this process.
 */
export const resumeCommand = buildCommand({
  async func(this: CliContext, flags: ResumeFlags, file: string) {
    const json = flags.json ?? false;
    try {
      const listen = listenAddress(flags.listen, flags.listenAny ?? false);
      if (await resumeLive(this, file, json)) return;
      const output = resolve(this.dlm.cwd, file);
      const state = await readStateFile(sidecarOf(output));
      const request = requestFromFlags(state.url, {
        ...flags,
        output,
        ...(state.slice === undefined ? {} : { rangeStart: state.slice.start, rangeEnd: state.slice.end }),
      });
      await runDownloadCommand(this, request, { json, quiet: flags.quiet ?? false, listen });
    } catch (error) {
      this.exitCode = reportError(this, error, json);
    }
  },
  parameters: {
    flags: {
      ...downloadFlags,
      ...listenFlags,
      restart: {
        kind: "boolean",
        brief: "If the remote file changed, discard the old data and start over (default off)",
        optional: true,
      },
    },
    aliases: { c: "connections" },
    positional: {
      kind: "tuple",
      parameters: [{ brief: "The output file being downloaded", parse: outputPath, placeholder: "FILE" }],
    },
  },
  docs: {
    brief:
      "Resume FILE: through its control plane if its process still runs, else from FILE.dlm/state.json (only the missing bytes)",
  },
});
