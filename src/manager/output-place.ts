import { lstat, mkdir, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { UsageError } from "../errors.ts";

/**
 * Checks a client's `directory` and `output` before anything touches the disk: both relative, neither
 * climbing out with `..`, and neither passing through a `*.dlm` directory (another download's sidecar: a
 * file there would break that download). An empty value is fine (the download directory itself; the
 * server's name).
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
  if (parts.some((part) => part.toLowerCase().endsWith(".dlm"))) {
    throw new UsageError(
      `${field}: ${JSON.stringify(value)} names a *.dlm directory, where dlm keeps a download's state`,
      { flag: field, input: value },
    );
  }
}

/** True when the real path `real` is `realRoot` or inside it. */
function within(realRoot: string, real: string): boolean {
  const rel = relative(realRoot, real);
  return !(rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel));
}

function leadsOut(directory: string, output: string | undefined): UsageError {
  return new UsageError(
    `directory: ${JSON.stringify(join(directory, output ?? ""))} leads out of the download directory through a symlink`,
    { flag: "directory", input: directory },
  );
}

/**
 * Checks, creating nothing, that `root/directory` (and the output's own parent) lies inside `root` with
 * real paths: the deepest part that exists already is resolved (a symlink planted inside the download
 * directory may lead out); the parts still missing will be plain directories. Returns the real root and
 * the directory to create. `knownRoot`: the real path of `root`, resolved once by the caller (see
 * ManagerOptions.realDir).
 */
export async function checkPlace(
  root: string,
  directory: string,
  output: string | undefined,
  knownRoot?: string,
): Promise<{ realRoot: string; target: string }> {
  checkRelative("directory", directory);
  if (output !== undefined) checkRelative("output", output);
  const realRoot = knownRoot ?? (await realpath(root));
  const target = join(realRoot, directory, output === undefined ? "" : dirname(output));
  // Bounded: each step goes one level up, and realRoot exists.
  // The download directory itself (a batch's every plain `out=`) was resolved just above: no second lookup.
  if (target === realRoot) return { realRoot, target };
  let existing = target;
  while (existing !== realRoot && (await lstat(existing).catch(() => undefined)) === undefined) {
    existing = dirname(existing);
  }
  const real = await realpath(existing).catch(() => undefined);
  if (real === undefined || !within(realRoot, real)) throw leadsOut(directory, output);
  return { realRoot, target };
}

/**
 * Creates `root/directory` (and the output's own parent) and returns the output's directory, after checking
 * (checkPlace) that no symlink on the way leads out of `root`, and once more after creating it: a link
 * planted inside the download directory cannot make the daemon create or write anything elsewhere.
 */
export async function placeInside(
  root: string,
  directory: string,
  output: string | undefined,
  knownRoot?: string,
): Promise<string> {
  const { realRoot, target } = await checkPlace(root, directory, output, knownRoot);
  // The real root exists (realpath found it) and is inside itself: nothing to create or check again. A
  // batch into one directory saves two real-path lookups and a mkdir per file.
  if (target === realRoot) return join(realRoot, directory);
  await mkdir(target, { recursive: true, mode: 0o755 });
  // A link may have appeared between the check and the mkdir.
  if (!within(realRoot, await realpath(target))) throw leadsOut(directory, output);
  return join(realRoot, directory);
}

/**
 * Checks a stored output path before Remove deletes it (a row is data: it may have been changed in the
 * database): its real parent must be inside `root` and its name a plain name. Throws a UsageError naming
 * the path otherwise; false when its directory is gone (nothing to delete).
 */
export async function deletableInside(root: string, path: string): Promise<boolean> {
  const realRoot = await realpath(root);
  const parent = await realpath(dirname(path)).catch(() => undefined);
  if (parent === undefined) return false;
  const name = basename(path);
  if (
    !isAbsolute(path) ||
    name === "" ||
    name === "." ||
    name === ".." ||
    !within(realRoot, join(parent, name))
  ) {
    throw new UsageError(`remove: ${path} is not inside the download directory ${root}; not deleted`, {
      file: path,
    });
  }
  if (join(parent, name) === realRoot) {
    throw new UsageError(`remove: ${path} is the download directory itself; not deleted`, { file: path });
  }
  return true;
}
