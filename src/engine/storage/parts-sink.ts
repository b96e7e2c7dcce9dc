import { closeSync, fstatSync, fsync, ftruncateSync, openSync, statfsSync } from "node:fs";
import { lstat, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { FileSink } from "bun";
import { StorageError } from "../../errors.ts";
import type { Segment } from "../segment.ts";
import { OPEN } from "./no-follow.ts";
import type { SegmentWriter, Sink } from "./sink.ts";
import { guardStorage, toStorageError } from "./storage-error.ts";

const fsyncFd = promisify(fsync);

/** Bytes a part writer buffers before handing them to the OS; bounds memory per connection. */
const FLUSH_EVERY_BYTES = 1 << 20;

/**
 * `parts` storage: each segment is appended to `DIR/part.<id>` through a Bun file writer on an fd opened
 * with "a" (Bun's `Bun.file(path).writer()` would overwrite from offset 0), which makes resume an append
 * and a crash harmless. Commit concatenates the parts in offset order into `DIR/assembled`.
 */
export class PartsSink implements Sink {
  readonly kind = "parts";
  readonly #dir: string;
  readonly #open = new Map<number, PartWriter>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Path of a segment's part file. */
  partPath(id: number): string {
    return join(this.#dir, `part.${id}`);
  }

  async open(segments: readonly Segment[]): Promise<void> {
    for (const segment of segments) {
      const path = this.partPath(segment.id);
      const size = await lstat(path).then(
        (s) => s.size,
        () => 0,
      );
      // Trust neither side alone: the state vouches for fsynced bytes, the file for what exists.
      segment.done = Math.min(segment.done, size, segment.end - segment.start + 1);
      if (size > segment.done) {
        await guardStorage(path, "truncate", () => {
          const fd = openSync(path, OPEN.readWrite);
          try {
            ftruncateSync(fd, segment.done);
          } finally {
            closeSync(fd);
          }
        });
      }
    }
  }

  async writer(segment: Segment): Promise<SegmentWriter> {
    const path = this.partPath(segment.id);
    const writer = await guardStorage(
      path,
      "open",
      () => new PartWriter(path, segment.done, () => this.#open.delete(segment.id)),
    );
    this.#open.set(segment.id, writer);
    return writer;
  }

  /** Nothing extra: each checkpoint flushes and fsyncs every open part, and assembly rewrites them anyway. */
  async writeback(): Promise<void> {}

  async sync(): Promise<void> {
    await Promise.all([...this.#open.values()].map((writer) => writer.sync()));
  }

  locate(segment: Segment, offset: number): { path: string; position: number } {
    return { path: this.partPath(segment.id), position: offset - segment.start };
  }

  async storedBytes(segment: Segment): Promise<number> {
    return lstat(this.partPath(segment.id)).then(
      (s) => s.size,
      () => 0,
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#open.values()].map((writer) => writer.close()));
  }

  async complete(segments: readonly Segment[]): Promise<string> {
    await this.close();
    const ordered = [...segments].sort((a, b) => a.start - b.start);
    const assembled = join(this.#dir, "assembled");
    await rm(assembled, { force: true });
    const [first, ...rest] = ordered;
    // The first part becomes the assembled file by rename: one part less to copy.
    if (first === undefined) {
      await guardStorage(assembled, "create", () => closeSync(openSync(assembled, OPEN.createWrite, 0o666)));
    } else {
      await guardStorage(assembled, "create", () => rename(this.partPath(first.id), assembled));
    }
    await guardStorage(assembled, "assemble", async () => {
      const fd = openSync(assembled, OPEN.append, 0o666);
      try {
        const out = Bun.file(fd).writer({ highWaterMark: FLUSH_EVERY_BYTES });
        for (const segment of rest) {
          const part = openSync(this.partPath(segment.id), OPEN.read);
          try {
            for await (const chunk of Bun.file(part).stream()) {
              const pending = out.write(chunk);
              if (pending instanceof Promise) await pending;
            }
          } finally {
            closeSync(part);
          }
        }
        await out.flush();
        await fsyncFd(fd);
      } finally {
        closeSync(fd);
      }
    });
    return assembled;
  }
}

/** Appends one segment's bytes to its part file. */
class PartWriter implements SegmentWriter {
  readonly #path: string;
  readonly #fd: number;
  readonly #sink: FileSink;
  readonly #onClose: () => void;
  #written: number;
  #readable: number;
  #sinceFlush = 0;
  #closed = false;

  constructor(path: string, alreadyDone: number, onClose: () => void) {
    this.#path = path;
    this.#fd = openSync(path, OPEN.append, 0o666);
    this.#sink = Bun.file(this.#fd).writer({ highWaterMark: FLUSH_EVERY_BYTES });
    this.#written = alreadyDone;
    this.#readable = alreadyDone;
    this.#onClose = onClose;
  }

  get readableBytes(): number {
    return this.#readable;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    try {
      const result = this.#sink.write(chunk);
      this.#written += chunk.length;
      this.#sinceFlush += chunk.length;
      if (result instanceof Promise) {
        // Bun 1.4.4 reports a failed write (ENOSPC...) only by rejecting this promise, and a later flush()
        // still "succeeds" without the bytes: the rejection must be awaited, or bytes vanish silently.
        return result.then(
          () => this.flush(),
          (error: unknown) => {
            throw toStorageError(error, this.#path, "write");
          },
        );
      }
      if (this.#sinceFlush >= FLUSH_EVERY_BYTES) return this.flush();
      return undefined;
    } catch (error) {
      throw toStorageError(error, this.#path, "write");
    }
  }

  async flush(): Promise<void> {
    if (this.#closed) return;
    const target = this.#written;
    try {
      await this.#sink.flush();
    } catch (error) {
      throw toStorageError(error, this.#path, "write");
    }
    this.#sinceFlush = 0;
    this.#readable = Math.max(this.#readable, target);
  }

  /** Flushes then fsyncs: every byte written before the call is durable when it resolves. */
  async sync(): Promise<void> {
    if (this.#closed) return;
    // Bytes written while this runs are the next sync's business.
    const target = this.#written;
    await this.flush();
    // A checkpoint's sync can overlap close() (the segment just ended): close syncs on its own and then
    // releases the fd, whose number the OS may hand to another file. After close, this sync has no say.
    if (this.#closed) return;
    try {
      await fsyncFd(this.#fd);
    } catch (error) {
      if (this.#closed) return;
      throw toStorageError(error, this.#path, "fsync");
    }
    if (this.#closed) return;
    // Last line of defence for the same Bun quirk (a failed flush() reports nothing): never let a
    // checkpoint vouch for bytes that are not in the file.
    const size = fstatSync(this.#fd).size;
    if (size < target) {
      const { bavail, bsize } = statfsSync(this.#path);
      if (bavail * bsize < target - size) {
        // The filesystem has no room for what is missing: say ENOSPC, with its "free space, resume" hint.
        throw toStorageError(
          Object.assign(new Error("short write"), { code: "ENOSPC" }),
          this.#path,
          "write",
        );
      }
      throw new StorageError(`cannot write ${this.#path}: ${size} of ${target} bytes reached the disk`, {
        file: this.#path,
        expected: String(target),
        actual: String(size),
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.sync();
    } finally {
      this.#closed = true;
      this.#onClose();
      await Promise.resolve(this.#sink.end()).catch(() => undefined);
      try {
        closeSync(this.#fd);
      } catch {
        // Bun's writer may already have closed the fd it was given.
      }
    }
  }
}
