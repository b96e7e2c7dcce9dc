import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { StateFileError } from "../errors.ts";

/**
 * Refuses a sidecar directory this user did not make, before anything in it is read or written: it must be a
 * real directory (not a link), owned by the effective user, not writable by group or others, and hold only
 * regular files (no symbolic links, devices, FIFOs or directories). Otherwise another user of a shared
 * directory (sticky /tmp) could plant a state that claims every byte done, or a link at `data`, `part.N` or
 * `state.json.tmp` that turns dlm's writes onto a file of theirs choosing. Throws `StateFileError` (exit 8)
 * with one line naming the sidecar and the reason; never changes anything.
 */
export async function checkSidecarTrust(sidecar: string): Promise<void> {
  const refuse = (reason: string, actual?: string): never => {
    throw new StateFileError(`${sidecar}: not trusted: ${reason}; remove it, or choose another -o`, {
      file: sidecar,
      ...(actual === undefined ? {} : { actual }),
    });
  };
  const dir = await lstat(sidecar).catch((error: unknown) => {
    // Nothing there is nothing to distrust: the caller reports the missing state file in its own words.
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw error;
  });
  if (dir === undefined) return;
  if (dir.isSymbolicLink()) refuse("it is a symbolic link");
  if (!dir.isDirectory()) refuse("it is not a directory");
  // The effective uid is a fact about this process, not part of the world the Context injects.
  const euid = process.geteuid?.();
  if (euid !== undefined && dir.uid !== euid)
    refuse(`owned by uid ${dir.uid}, not by this user (uid ${euid})`, String(dir.uid));
  if ((dir.mode & 0o022) !== 0)
    refuse(`writable by group or others (mode ${modeOf(dir.mode)})`, modeOf(dir.mode));
  for (const name of (await readdir(sidecar)).sort()) {
    const entry = await lstat(join(sidecar, name)).catch((error: unknown) => {
      // Gone since the listing: a checkpoint of the running download renamed state.json.tmp over state.json
      // (Update reads the sidecar of a download that runs). What is not there cannot be a planted link.
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      throw error;
    });
    if (entry === undefined) continue;
    if (entry.isSymbolicLink()) refuse(`${name} is a symbolic link`, name);
    if (!entry.isFile()) refuse(`${name} is not a regular file`, name);
    if (euid !== undefined && entry.uid !== euid) refuse(`${name} is owned by uid ${entry.uid}`, name);
  }
}

function modeOf(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
