import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "../../errors.ts";
import type { CliContext } from "./cli-context.ts";
import { type InputEntry, parseInputFile } from "./input-file.ts";

/**
 * The entries of `-i FILE` (aria2's input format, relative to the user's directory) for `dlm add` and
 * `dlm get`: each with the command line's `-H` headers before its own. Options dlm does not use are named
 * once on stderr; an unreadable file is a usage error naming it.
 */
export async function readInputFileEntries(
  cli: CliContext,
  inputFile: string,
  headers: readonly (readonly [string, string])[],
): Promise<InputEntry[]> {
  const path = resolve(cli.dlm.cwd, inputFile);
  const text = await readFile(path, "utf8").catch((error: unknown) => {
    throw new UsageError(`--input-file: cannot read ${path}: ${(error as Error).message}`, {
      flag: "--input-file",
      input: inputFile,
      cause: error,
    });
  });
  const parsed = parseInputFile(text, inputFile);
  if (parsed.ignored.length > 0) {
    cli.dlm.stderr.write(
      `dlm: ${inputFile}: ignoring options dlm does not use: ${parsed.ignored.join(", ")}\n`,
    );
  }
  return parsed.entries.map((e) => ({ ...e, headers: [...headers, ...e.headers] }));
}
