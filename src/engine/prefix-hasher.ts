import type { Worker } from "node:worker_threads";
import type { ChecksumAlgorithm } from "./checksum.ts";
import { type HashWorkerReply, type HashWorkerRequest, hashSession } from "./hash-session.ts";
import type { Segment } from "./segment.ts";
import type { Sink } from "./storage/sink.ts";

/** Digests of the whole output, by algorithm, and how many bytes they cover. */
export interface PrefixDigests {
  readonly hex: Readonly<Record<string, string>>;
  readonly hashedBytes: number;
}

/**
 * The worker's entry point: beside this file when run from source. In the binary `bun run build` compiles
 * (hash-worker.ts is an extra entry point there), every entry point sits under the executable's virtual root
 * by its path relative to src/, and a relative specifier resolves against that root, not against this file.
 */
const HASH_WORKER = Bun.isStandaloneExecutable
  ? "./engine/hash-worker.ts"
  : new URL("./hash-worker.ts", import.meta.url);

/**
 * Outputs up to this size are hashed on the download thread: a thread's start and teardown (~0.05 CPU-s
 * and 68 ms of the main thread to terminate) cost more than hashing 16 MiB (~16 ms), and a batch of many
 * small files paid it per file.
 */
export const INLINE_HASH_MAX_BYTES = 16 << 20;

/**
 * Hash on arrival: hands the worker thread (hash-worker.ts) each stretch of the output's contiguous prefix
 * as soon as it is readable from storage, while later bytes still arrive, so the check after the last byte
 * covers only the tail. `pump()` is synchronous and cheap: it only posts messages. With `inline`, the same
 * session runs on this thread instead (small outputs, see INLINE_HASH_MAX_BYTES).
 */
export class PrefixHasher {
  readonly #worker: Worker | undefined;
  readonly #inline: ((message: HashWorkerRequest) => void) | undefined;
  readonly #sink: Sink;
  readonly #segments: () => readonly Segment[];
  readonly #readable: (segment: Segment) => number;
  #queuedUpTo: number;
  #hashedBytes = 0;
  #error: Error | undefined;
  #onDigests: ((digests: PrefixDigests) => void) | undefined;
  #onError: ((error: Error) => void) | undefined;

  /**
   * @param first output offset of the first byte (0, or the start of a --range slice).
   * @param readable bytes of a segment (from its start) that can be read back from storage now.
   */
  constructor(
    algorithms: readonly ChecksumAlgorithm[],
    sink: Sink,
    segments: () => readonly Segment[],
    readable: (segment: Segment) => number,
    first: number,
    inline = false,
  ) {
    this.#sink = sink;
    this.#segments = segments;
    this.#readable = readable;
    this.#queuedUpTo = first;
    if (inline) {
      this.#inline = hashSession((reply) => this.#receive(reply), 1 << 20);
    } else {
      // Loaded on first use: most runs that need no thread (small files, batches) skip its start-up cost.
      const { Worker: WorkerThread } = require("node:worker_threads") as typeof import("node:worker_threads");
      const worker = new WorkerThread(HASH_WORKER);
      worker.unref();
      worker.on("message", (reply: HashWorkerReply) => this.#receive(reply));
      worker.on("error", (error: Error) => this.#fail(error));
      this.#worker = worker;
    }
    this.#post({ type: "init", algorithms });
  }

  /** Bytes the worker has hashed so far. */
  get hashedBytes(): number {
    return this.#hashedBytes;
  }

  /**
   * Bytes just handed to storage at `offset`: hashed from memory when they extend the prefix and the
   * session runs on this thread (no read back); otherwise `pump` reads them from storage later.
   */
  offer(offset: number, chunk: Uint8Array): void {
    if (this.#inline === undefined || offset !== this.#queuedUpTo || chunk.length === 0) return;
    this.#inline({ type: "bytes", data: chunk });
    this.#queuedUpTo += chunk.length;
  }

  /** Queues every newly readable stretch of the prefix. Never blocks. */
  pump(): void {
    for (;;) {
      const offset = this.#queuedUpTo;
      const segment = this.#segments().find((s) => s.start <= offset && offset <= s.end);
      if (segment === undefined) return;
      const readableEnd = segment.start + this.#readable(segment) - 1;
      if (readableEnd < offset) return;
      const { path, position } = this.#sink.locate(segment, offset);
      const length = readableEnd - offset + 1;
      this.#post({ type: "range", path, position, length });
      this.#queuedUpTo += length;
    }
  }

  /** Queues the rest, then waits for the digests; call once, after the last byte is stored. */
  finish(): Promise<PrefixDigests> {
    this.pump();
    return new Promise<PrefixDigests>((resolve, reject) => {
      if (this.#error !== undefined) return reject(this.#error);
      this.#onDigests = resolve;
      this.#onError = reject;
      this.#post({ type: "finish" });
    }).finally(() => this.close());
  }

  /** Stops the worker (pause, failure, or after the digests). */
  close(): void {
    // terminate() holds the calling thread for tens of ms (68 ms in a profile of a 128 MiB run) while the
    // worker's isolate is torn down: off the path to the result line. The timer does not keep the process
    // alive; a process that exits first takes the thread with it, a long-lived one (dlm serve) frees it.
    const worker = this.#worker;
    if (worker !== undefined) setTimeout(() => void worker.terminate(), 0).unref();
  }

  #post(message: HashWorkerRequest): void {
    if (this.#inline !== undefined) this.#inline(message);
    else this.#worker?.postMessage(message);
  }

  #receive(reply: HashWorkerReply): void {
    if (reply.type === "progress") {
      this.#hashedBytes = reply.hashedBytes;
    } else if (reply.type === "digests") {
      this.#hashedBytes = reply.hashedBytes;
      this.#onDigests?.({ hex: reply.hex, hashedBytes: reply.hashedBytes });
    } else {
      this.#fail(new Error(`hashing failed: ${reply.message}`));
    }
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#onError?.(error);
  }
}
