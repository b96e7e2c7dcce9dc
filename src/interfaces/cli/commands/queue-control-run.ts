import { UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import type { Download } from "../../../gen/dlm/v1/download_pb.ts";
import type { CliContext } from "../cli-context.ts";
import { requireLiveDownload } from "../control-client.ts";
import { downloadIdOf, parseDownloadId } from "../download-id.ts";
import { outputPath } from "../flag-parsers.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";
import { runLiveCommand } from "./control-command.ts";
import type { QueueFlags, RmFlags } from "./queue-control.ts";
import { resumeFile } from "./resume.ts";
import type { ResumeFlags } from "./resume-flags.ts";

type Verb = "pause" | "resume" | "rm";

/**
 * Which form a pause/resume call is: download ids of `dlm serve` (`--all`, or every argument an id) or one
 * FILE of a `dlm get --listen` process. Mixing them is a UsageError.
 */
function idsOrFile(verb: Verb, args: readonly string[], all: boolean, cwd: string): number[] | string {
  // rm has no FILE form: every argument must be an id, whatever files exist.
  const ids = args.map((arg) => (verb === "rm" ? parseDownloadId(arg) : downloadIdOf(arg, cwd)));
  if (all) {
    if (args.length > 0) throw new UsageError(`${verb}: give ids or --all, not both`, { flag: "--all" });
    return [];
  }
  if (args.length === 0) throw new UsageError(`${verb}: give download ids, or --all`, { flag: "ID" });
  if (ids.every((id) => id !== undefined)) return ids as number[];
  if (verb !== "rm" && args.length === 1) return outputPath(args[0] ?? "");
  const bad = args.find((_, i) => ids[i] === undefined) ?? "";
  throw new UsageError(`${verb}: expected download ids (12 or d12), got ${JSON.stringify(bad)}`, {
    input: bad,
  });
}

async function runOnServer(cli: CliContext, verb: Verb, ids: number[], flags: RmFlags): Promise<void> {
  const { client, server } = await connectToServer(cli.dlm);
  // With the client: the generated enum is heavy to load (see service-client.ts).
  const { stateName } = await import("../../shared/download-states.ts");
  const selector = { ids: ids.map(BigInt), all: flags.all ?? false };
  const print = (line: string, record: Record<string, unknown>) =>
    cli.dlm.stdout.write(flags.json ? `${JSON.stringify(record)}\n` : `${line}\n`);
  if (verb === "rm") {
    const removed = await callServer(server, () =>
      client.remove({ selector, deleteFiles: flags.deleteFiles ?? false }),
    );
    for (const id of removed.ids) print(`${id}\tremoved`, { type: "removed", id: Number(id) });
  } else {
    const answer: { downloads: Download[] } =
      verb === "pause"
        ? await callServer(server, () => client.pause({ selector }))
        : await callServer(server, () => client.resume({ selector }));
    for (const d of answer.downloads) {
      print(`${d.id}\t${stateName(d.state)}`, { type: "state", id: Number(d.id), state: stateName(d.state) });
    }
  }
  cli.exitCode = EXIT.OK;
}

/** `dlm pause ID...|--all|FILE` (queue-control.ts): loaded when it runs, as are the clients it uses. */
export async function runPause(this: CliContext, flags: QueueFlags, ...args: string[]): Promise<void> {
  const json = flags.json ?? false;
  try {
    const form = idsOrFile("pause", args, flags.all ?? false, this.dlm.cwd);
    if (typeof form === "string") {
      await runLiveCommand(this, await requireLiveDownload(this.dlm, form), "pause", json);
    } else await runOnServer(this, "pause", form, flags);
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}

/** `dlm resume ID...|--all|FILE` (queue-control.ts). */
export async function runResume(
  this: CliContext,
  flags: ResumeFlags & QueueFlags,
  ...args: string[]
): Promise<void> {
  const json = flags.json ?? false;
  try {
    const form = idsOrFile("resume", args, flags.all ?? false, this.dlm.cwd);
    if (typeof form === "string") await resumeFile(this, flags, form);
    else await runOnServer(this, "resume", form, flags);
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}

/** `dlm rm ID...|--all [--delete-files]` (queue-control.ts). */
export async function runRm(this: CliContext, flags: RmFlags, ...args: string[]): Promise<void> {
  const json = flags.json ?? false;
  try {
    const form = idsOrFile("rm", args, flags.all ?? false, this.dlm.cwd);
    await runOnServer(this, "rm", typeof form === "string" ? [] : form, flags);
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
