/**
 * Worker thread that hashes the output's completed prefix as it grows (hash on arrival; the session and
 * its protocol are in hash-session.ts), so the download thread never spends its time on SHA-256 of a large
 * file: on a 2-core machine that is the difference between hashing being free and hashing halving the
 * throughput.
 */
import {
  type HashEnvelope,
  type HashReplyEnvelope,
  type HashWorkerReply,
  type HashWorkerRequest,
  hashSession,
} from "./hash-session.ts";

export type { HashEnvelope, HashReplyEnvelope, HashWorkerReply, HashWorkerRequest } from "./hash-session.ts";

// 1 MiB a read: the ranges come from the page cache, where a larger read hashes no faster; every MiB here
// is resident for the whole download (issue 24: dlm's peak RSS against a bare Bun script's).
const BUFFER_BYTES = 1 << 20;

/** The scope of a Web Worker as far as this file uses it (the DOM lib's types are not loaded). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<HashEnvelope<HashWorkerRequest>>) => void) | null;
  postMessage(message: HashReplyEnvelope): void;
}

// Started by prefix-hasher.ts as a Web Worker (Bun's `Worker`); imported anywhere else (a test), it does
// nothing: only a worker's global scope has no `document` and is not the main thread.
if (!Bun.isMainThread) {
  const scope = globalThis as unknown as WorkerScope;
  // One thread serves one large download, or every small one of a batch (prefix-hasher.ts): the sessions
  // share the read buffer and end with their digests (a session that failed ignores the rest until then).
  let buffer: Uint8Array | undefined;
  const shared = () => {
    buffer ??= new Uint8Array(BUFFER_BYTES);
    return buffer;
  };
  const sessions = new Map<number, (message: HashWorkerRequest) => void>();
  scope.onmessage = ({ data: { session, message } }) => {
    let handle = sessions.get(session);
    if (handle === undefined) {
      handle = hashSession(
        (reply: HashWorkerReply) => {
          if (reply.type === "digests") sessions.delete(session);
          scope.postMessage({ session, message: reply });
        },
        BUFFER_BYTES,
        shared,
      );
      sessions.set(session, handle);
    }
    if (Array.isArray(message)) for (const one of message) handle(one);
    else handle(message as HashWorkerRequest);
  };
}
