import { isCredentialHeader } from "../../../engine/credential-headers.ts";
import { chooseMetalinkFile, metalinkDownload } from "../../../engine/metalink-choice.ts";
import { UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import type { CliContext } from "../cli-context.ts";
import type { InputEntry } from "../input-file.ts";
import { readInputFileEntries } from "../read-input-file.ts";
import { reportError } from "../report.ts";
import { callServer, connectToServer } from "../service-client.ts";
import type { AddFlags } from "./add.ts";

/**
 * The one entry `--metalink FILE|URL` describes, read here (the daemon never reads a path a client names):
 * its URL, output and checksum, and its other URLs as mirrors. As in `dlm get --metalink`, -H credentials
 * are not passed on to a file URL on another origin than a fetched Metalink's.
 */
async function metalinkEntry(
  cli: CliContext,
  flags: AddFlags,
  urls: readonly string[],
): Promise<{ entry: InputEntry; mirrors: string[] }> {
  const where = flags.metalink ?? "";
  if (urls.length > 0 || flags.inputFile !== undefined) {
    throw new UsageError("--metalink: takes no URL and no --input-file besides the Metalink", {
      flag: "--metalink",
    });
  }
  // Loaded on use: the XML parser under it is not needed for any other command (RSS and start-up).
  const { loadMetalink } = await import("../../../engine/metalink-load.ts");
  const loaded = await loadMetalink(cli.dlm, where, flags.header ?? [], new AbortController().signal);
  const described = metalinkDownload(chooseMetalinkFile(loaded, flags.metalinkFile));
  const sameOrigin = loaded.origin === undefined || loaded.origin === new URL(described.url).origin;
  const checksum = described.checksum;
  return {
    entry: {
      url: described.url,
      out: flags.output ?? described.output,
      dir: flags.dir,
      checksum:
        flags.checksum ?? (checksum === undefined ? undefined : `${checksum.algorithm}:${checksum.hex}`),
      headers: (flags.header ?? []).filter(([name]) => sameOrigin || !isCredentialHeader(name)),
      line: 1,
    },
    mirrors: [...(flags.mirror ?? []), ...described.mirrors],
  };
}

async function entriesOf(cli: CliContext, flags: AddFlags, urls: readonly string[]): Promise<InputEntry[]> {
  const fromArgs = urls.map((url, i) => ({
    url,
    out: flags.output,
    dir: flags.dir,
    checksum: flags.checksum,
    headers: flags.header ?? [],
    line: i + 1,
  }));
  if (flags.output !== undefined && urls.length > 1) {
    throw new UsageError("--output: names one file, but more than one URL was given", { flag: "--output" });
  }
  if (flags.inputFile === undefined) return fromArgs;
  return [...fromArgs, ...(await readInputFileEntries(cli, flags.inputFile, flags.header ?? []))];
}

/** The body of `addCommand` (add.ts): loaded when the command runs, so `dlm get` never loads it (issue 24). */
export async function runAdd(this: CliContext, flags: AddFlags, ...urls: string[]): Promise<void> {
  const json = flags.json ?? false;
  try {
    if (flags.metalinkFile !== undefined && flags.metalink === undefined) {
      throw new UsageError("--metalink-file: applies only with --metalink", { flag: "--metalink-file" });
    }
    const fromMetalink = flags.metalink === undefined ? undefined : await metalinkEntry(this, flags, urls);
    const entries = fromMetalink === undefined ? await entriesOf(this, flags, urls) : [fromMetalink.entry];
    if (entries.length === 0) throw new UsageError("add: give URLs or --input-file FILE", { flag: "URL" });
    const mirrors = fromMetalink?.mirrors ?? [...(flags.mirror ?? [])];
    if (mirrors.length > 0 && entries.length > 1) {
      throw new UsageError("--mirror: applies to one URL, not to several", { flag: "--mirror" });
    }
    const { client, server } = await connectToServer(this.dlm);
    for (const entry of entries) {
      const { download } = await callServer(server, () =>
        client.add({
          url: entry.url,
          output: entry.out ?? "",
          directory: entry.dir ?? "",
          checksum: entry.checksum ?? "",
          checksumFile: flags.checksumFile ?? "",
          headers: entry.headers.map(([name, value]) => ({ name, value })),
          mirrors,
          connections: flags.connections ?? 0,
          priority: flags.priority ?? 0,
          labels: [...(flags.label ?? [])],
          startPaused: flags.paused ?? false,
          // A fresh key per entry: if this call is retried after a lost answer, no second download appears.
          requestId: crypto.randomUUID(),
        }),
      );
      const id = Number(download?.id ?? 0n);
      if (json) this.dlm.stdout.write(`${JSON.stringify({ type: "added", id, url: entry.url })}\n`);
      else this.dlm.stdout.write(`${id}\t${entry.url}\n`);
    }
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
