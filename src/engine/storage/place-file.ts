import { link, rename, unlink } from "node:fs/promises";
import { OutputExistsError } from "../../errors.ts";
import { fsyncDirectory } from "./fsync-directory.ts";
import { toStorageError } from "./storage-error.ts";

/**
 * Moves the verified file from the sidecar onto its final name. Without `force` it uses link + unlink, which
 * fails atomically if the name was taken meanwhile (rename would silently replace it).
 */
export async function placeFile(source: string, target: string, force: boolean): Promise<void> {
  try {
    if (force) {
      await rename(source, target);
    } else {
      try {
        await link(source, target);
      } catch (error) {
        if ((error as { code?: string }).code === "EEXIST") {
          throw new OutputExistsError(`${target} already exists (created while downloading)`, {
            file: target,
            hint: "use --force to overwrite it",
          });
        }
        // Filesystems without hard links: fall back to rename after a last existence check.
        if (await Bun.file(target).exists())
          throw new OutputExistsError(`${target} already exists`, {
            file: target,
            hint: "use --force to overwrite it",
          });
        await rename(source, target);
        await fsyncDirectory(target);
        return;
      }
      await unlink(source);
    }
  } catch (error) {
    if (error instanceof OutputExistsError) throw error;
    throw toStorageError(error, target, "move the finished file onto");
  }
  await fsyncDirectory(target);
}
