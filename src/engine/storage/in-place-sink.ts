import { closeSync, fdatasync, fstatSync, fsync, ftruncateSync, openSync, writeSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Segment } from "../segment.ts";
import { OPEN } from "./no-follow.ts";
import type { SegmentWriter, Sink } from "./sink.ts";
import { guardStorage, toStorageError } from "./storage-error.ts";

const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);

/**
 * `in-place` storage: one file `DIR/data` sized to the whole download up front, each segment written at its
 * own offsets with positional writes. No assembly copy and no 2x disk space; commit is fsync + rename.
 * Writes are synchronous `pwrite`s into the page cache: cheaper than a thread-pool hop per chunk, and they
 * give natural back-pressure. On resume, only bytes the state file vouches for (fsynced) are trusted.
 */
export class InPlaceSink implements Sink {
  readonly kind = "in-place";
  readonly #path: string;
  readonly #base: number;
  #fd: number | undefined;

  /** @param base output offset stored at file position 0 (the start of a --range slice, else 0). */
  constructor(dir: string, base: number) {
    this.#path = join(dir, "data");
    this.#base = base;
  }

  async open(segments: readonly Segment[], outputBytes: number | undefined): Promise<void> {
    let existed = false;
    // Opened and sized on this thread, as the writes are: microseconds in the kernel, where a trip through the
    // thread pool (2 threads, held by other files' fsyncs in a batch) waited 3 ms in the median on the way to
    // a file's first byte (bench/README.md, "Where a batch file's time goes").
    await guardStorage(this.#path, "open", () => {
      // Never through a link (ELOOP), and a new file only where nothing is (EEXIST): see no-follow.ts.
      // 0o666 less the umask, as curl and wget leave a download: this file becomes the output. The sidecar
      // directory (0700) keeps it private until then. A fresh download (the common case, every file of a
      // batch) creates it in one call; EEXIST means an earlier run's data, opened as it is.
      let fd: number;
      try {
        fd = openSync(this.#path, OPEN.createReadWrite, 0o666);
      } catch (error) {
        if ((error as { code?: string }).code !== "EEXIST") throw error;
        existed = true;
        fd = openSync(this.#path, OPEN.readWrite, 0o666);
      }
      this.#fd = fd;
      // ftruncate makes a sparse file of the final size; the blocks are claimed as bytes arrive. A file just
      // created is empty: no fstat needed.
      if (outputBytes !== undefined && (existed ? fstatSync(fd).size : 0) !== outputBytes) {
        ftruncateSync(fd, outputBytes);
      }
      // A stream of unknown length: drop whatever an earlier run wrote past the bytes the state vouches for.
      if (outputBytes === undefined && existed) {
        const trusted = Math.max(0, ...segments.map((s) => s.start + s.done - this.#base));
        ftruncateSync(fd, trusted);
      }
    });
    // A missing data file vouches for nothing, whatever the state file says.
    for (const segment of segments)
      segment.done = existed ? Math.min(segment.done, segment.end - segment.start + 1) : 0;
  }

  async writer(segment: Segment): Promise<SegmentWriter> {
    const fd = this.#requireFd();
    const path = this.#path;
    let position = segment.start + segment.done - this.#base;
    let readable = segment.done;
    return {
      get readableBytes() {
        return readable;
      },
      write(chunk: Uint8Array) {
        let offset = 0;
        try {
          while (offset < chunk.length) {
            offset += writeSync(fd, chunk, offset, chunk.length - offset, position + offset);
          }
        } catch (error) {
          throw toStorageError(error, path, "write");
        }
        position += chunk.length;
        readable += chunk.length;
        return undefined;
      },
      flush: async () => undefined,
      close: async () => undefined,
    };
  }

  async sync(): Promise<void> {
    if (this.#fd === undefined) return;
    await fsyncFd(this.#fd).catch((error: unknown) => {
      throw toStorageError(error, this.#path, "fsync");
    });
  }

  async writeback(): Promise<void> {
    if (this.#fd === undefined) return;
    // fdatasync: the data (and a grown size), not timestamps; the final sync() is the full fsync.
    await fdatasyncFd(this.#fd).catch((error: unknown) => {
      throw toStorageError(error, this.#path, "fsync");
    });
  }

  locate(_segment: Segment, offset: number): { path: string; position: number } {
    return { path: this.#path, position: offset - this.#base };
  }

  async storedBytes(segment: Segment): Promise<number> {
    const size = (await lstat(this.#path).catch(() => ({ size: 0 }))).size;
    return Math.max(0, Math.min(segment.end + 1 - this.#base, size) - (segment.start - this.#base));
  }

  async complete(): Promise<string> {
    await this.sync();
    await this.close();
    return this.#path;
  }

  async close(): Promise<void> {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #requireFd(): number {
    if (this.#fd === undefined) throw new Error(`in-place storage ${this.#path} is not open`);
    return this.#fd;
  }
}
