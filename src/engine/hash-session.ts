/**
 * One hashing session of hash on arrival, wherever it runs: in the worker thread (hash-worker.ts) for large
 * downloads, or on the download thread for small ones (prefix-hasher.ts), where starting a thread would
 * cost more than the hashing.
 *
 * Protocol (messages in order): init { algorithms } → (range { path, position, length } | bytes { data })*
 * → finish; a thread runs several sessions, each message and reply wrapped in a {@link HashEnvelope};
 * replies: progress { hashedBytes } after each range, digests { hex, hashedBytes } after finish, or
 * error { message }.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { type ChecksumAlgorithm, createHasher, type IncrementalHasher } from "./checksum.ts";
import { OPEN } from "./storage/no-follow.ts";

/** Messages the download thread sends. */
export type HashWorkerRequest =
  | { readonly type: "init"; readonly algorithms: readonly ChecksumAlgorithm[] }
  | { readonly type: "range"; readonly path: string; readonly position: number; readonly length: number }
  /** Bytes in hand, hashed as they are (only on the download thread: posting them would copy them). */
  | { readonly type: "bytes"; readonly data: Uint8Array }
  | { readonly type: "finish" };

/** Messages the session answers with. */
export type HashWorkerReply =
  | { readonly type: "progress"; readonly hashedBytes: number }
  | { readonly type: "digests"; readonly hex: Readonly<Record<string, string>>; readonly hashedBytes: number }
  | { readonly type: "error"; readonly message: string };

/**
 * A message to or from the hash thread, for one of the sessions it runs; to the thread also several at once,
 * in order (one post per small download: a post costs the sending thread more than hashing 1 MiB).
 */
export interface HashEnvelope<T> {
  readonly session: number;
  readonly message: T | readonly T[];
}

/** The hash thread's answer for one session. */
export interface HashReplyEnvelope {
  readonly session: number;
  readonly message: HashWorkerReply;
}

/**
 * A message handler that reads each range with positional reads into one reusable buffer of `bufferBytes`
 * and feeds every hasher, answering through `reply`. Messages are handled strictly in order; init is async
 * (wasm), so everything queues behind it. After an error it ignores the rest.
 */
export function hashSession(
  reply: (message: HashWorkerReply) => void,
  bufferBytes: number,
  sharedBuffer?: () => Uint8Array,
): (message: HashWorkerRequest) => void {
  // Made on the first range read: a small download hashed from memory never reads back, and zeroing a
  // buffer per download cost a batch of small files more than their hashing. Sessions of one thread may
  // share one (`sharedBuffer`): a range is read and hashed synchronously, so no two use it at once.
  let buffer: Uint8Array | undefined;
  let hashers: Map<ChecksumAlgorithm, IncrementalHasher> | undefined;
  let ready: Promise<void> = Promise.resolve();
  let hashedBytes = 0;
  let failed = false;

  const hashRange = (path: string, position: number, length: number) => {
    buffer ??= sharedBuffer?.() ?? new Uint8Array(bufferBytes);
    bufferBytes = buffer.length;
    const fd = openSync(path, OPEN.read);
    try {
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buffer, 0, Math.min(bufferBytes, length - done), position + done);
        if (n === 0)
          throw new Error(`${path} ends at ${position + done}, expected ${length - done} more bytes`);
        const view = buffer.subarray(0, n);
        for (const hasher of hashers?.values() ?? []) hasher.update(view);
        done += n;
      }
      hashedBytes += length;
    } finally {
      closeSync(fd);
    }
  };

  return (message) => {
    ready = ready.then(async () => {
      if (failed) return;
      try {
        if (message.type === "init") {
          hashers = new Map();
          for (const algorithm of message.algorithms) hashers.set(algorithm, await createHasher(algorithm));
        } else if (message.type === "range") {
          hashRange(message.path, message.position, message.length);
          reply({ type: "progress", hashedBytes });
        } else if (message.type === "bytes") {
          for (const hasher of hashers?.values() ?? []) hasher.update(message.data);
          hashedBytes += message.data.length;
          reply({ type: "progress", hashedBytes });
        } else {
          const hex: Record<string, string> = {};
          for (const [algorithm, hasher] of hashers ?? []) hex[algorithm] = hasher.digestHex();
          reply({ type: "digests", hex, hashedBytes });
        }
      } catch (error) {
        failed = true;
        reply({ type: "error", message: error instanceof Error ? error.message : String(error) });
      }
    });
  };
}
