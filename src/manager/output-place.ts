import { mkdir, realpath } from "node:fs/promises";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { UsageError } from "../errors.ts";

/**
 * Checks a client's `directory` and `output` before anything touches the disk: both relative, and neither
 * climbing out with `..`. An empty value is fine (the download directory itself; the server's name).
 */
export function checkRelative(field: "directory" | "output", value: string): void {
  if (value === "") return;
  const parts = normalize(value).split(/[\\/]/);
  if (isAbsolute(value) || value.includes("\0") || parts.includes("..")) {
    throw new UsageError(`${field}: must stay inside the download directory, got ${JSON.stringify(value)}`, {
      flag: field,
      input: value,
    });
  }
}

/**
 * Creates `root/directory` (and the output's own parent) and returns the output's directory, after checking
 * with real paths that no symlink on the way leads out of `root`: a link planted inside the download
 * directory cannot make the daemon write elsewhere.
 */
export async function placeInside(
  root: string,
  directory: string,
  output: string | undefined,
): Promise<string> {
  checkRelative("directory", directory);
  if (output !== undefined) checkRelative("output", output);
  const realRoot = await realpath(root);
  const target = join(realRoot, directory, output === undefined ? "" : join(output, ".."));
  await mkdir(target, { recursive: true, mode: 0o755 });
  const real = await realpath(target);
  const rel = relative(realRoot, real);
  if (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
    throw new UsageError(
      `directory: ${JSON.stringify(join(directory, output ?? ""))} leads out of the download directory through a symlink`,
      {
        flag: "directory",
        input: directory,
      },
    );
  }
  return join(realRoot, directory);
}
