import { StorageError } from "../../errors.ts";

const ERRNO_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  EMFILE: "too many open files",
  EIO: "I/O error",
  ELOOP: "it is a symbolic link (not followed)",
  EEXIST: "something else already has that name",
  ENAMETOOLONG: "file name too long",
};

/**
 * Wraps a filesystem failure once, at the storage boundary, as `StorageError` naming the file and the
 * errno reason. A `StorageError` passes through unchanged.
 */
export function toStorageError(error: unknown, file: string, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  const reason =
    typeof code === "string"
      ? (ERRNO_REASONS[code] ?? code)
      : error instanceof Error
        ? error.message
        : String(error);
  return new StorageError(`cannot ${action} ${file}: ${reason}`, {
    file,
    cause: error,
    ...(code === "ENOSPC" || code === "EDQUOT" ? { hint: "free some space, then resume" } : {}),
  });
}

/** Runs a filesystem step, wrapping any failure with {@link toStorageError}. */
export async function guardStorage<T>(file: string, action: string, step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw toStorageError(error, file, action);
  }
}
