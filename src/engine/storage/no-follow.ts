import { constants } from "node:fs";

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_WRONLY } = constants;

/**
 * open(2) flags for files inside a sidecar. None follows a symbolic link at the last path component (ELOOP
 * instead), so a link planted at `data`, `part.N` or `state.json.tmp` can never redirect a write onto another
 * file; files dlm creates are created exclusively (EEXIST if anything is already there). Bun's node:fs takes
 * these numeric flags as Node does.
 */
export const OPEN = {
  /** Read an existing file. */
  read: O_RDONLY | O_NOFOLLOW,
  /** Read and write an existing file. */
  readWrite: O_RDWR | O_NOFOLLOW,
  /** Create a new file for reading and writing; fails if the name exists. */
  createReadWrite: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW,
  /** Create a new file for writing; fails if the name exists. */
  createWrite: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
  /** Append to a file, creating it if missing. */
  append: O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW,
} as const;
