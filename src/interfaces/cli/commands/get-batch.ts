import { UsageError } from "../../../errors.ts";
import type { CliContext } from "../cli-context.ts";
import { integerIn } from "../flag-parsers.ts";
import type { InputEntry } from "../input-file.ts";
import { readInputFileEntries } from "../read-input-file.ts";
import { reportError } from "../report.ts";
import type { GetFlags } from "./get.ts";

/** The flags `dlm get` has for batches. */
export interface BatchFlags {
  readonly inputFile?: string;
  readonly jobs?: number;
  readonly limit?: number;
}

/** `-i FILE` and `-j N` of `dlm get` (its `--limit RATE` is shared by a batch: see runBatchCommand). */
export const batchFlags = {
  inputFile: {
    kind: "parsed",
    parse: String,
    brief:
      "Download every URL in FILE: aria2 format, a URL line then indented out=, dir=, checksum= lines (default: none)",
    optional: true,
    placeholder: "FILE",
  },
  jobs: {
    kind: "parsed",
    parse: integerIn("--jobs", 1, 100),
    brief: "With several URLs: downloads at once, 1..100 (default 3)",
    optional: true,
    placeholder: "N",
  },
} as const;

/** Flags that make sense for one download only. */
const SINGLE_ONLY: readonly (keyof GetFlags | "listen")[] = [
  "output",
  "rangeStart",
  "rangeEnd",
  "listen",
  "restart",
  "force",
  "mirror",
  "noMirrors",
];

/**
 * `dlm get URL URL...` / `dlm get -i FILE -j N`: checks the flags (before any I/O beyond reading FILE), then
 * runs the batch with the manager in this process (batch.ts, loaded only here).
 */
export async function runBatchCommand(
  cli: CliContext,
  flags: GetFlags & BatchFlags & { readonly listen?: unknown },
  urls: readonly string[],
): Promise<void> {
  const json = flags.json ?? false;
  try {
    for (const name of SINGLE_ONLY) {
      if (flags[name] !== undefined) {
        const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        throw new UsageError(`${flag}: applies to one URL, not to a batch`, { flag });
      }
    }
    const entries: InputEntry[] = urls.map((url, i) => ({
      url,
      out: undefined,
      dir: undefined,
      checksum: undefined,
      headers: flags.header ?? [],
      line: i + 1,
    }));
    if (flags.inputFile !== undefined)
      entries.push(...(await readInputFileEntries(cli, flags.inputFile, flags.header ?? [])));
    if (entries.length === 0) throw new UsageError("get: give a URL, or --input-file FILE", { flag: "URL" });
    const { runBatch } = await import("../batch.ts");
    cli.exitCode = await runBatch(cli, entries, {
      jobs: flags.jobs ?? 3,
      limit: flags.limit ?? 0,
      connections: flags.connections ?? 0,
      json,
      quiet: flags.quiet ?? false,
    });
  } catch (error) {
    cli.exitCode = reportError(cli, error, json);
  }
}
