import type { ChecksumAlgorithm } from "./checksum.ts";
import {
  type HashEnvelope,
  type HashReplyEnvelope,
  type HashWorkerReply,
  type HashWorkerRequest,
  hashSession,
} from "./hash-session.ts";
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

/** A hash thread and the sessions it runs for this process's downloads. */
interface HashThread {
  readonly worker: Bun.Worker;
  readonly sessions: Map<number, (reply: HashWorkerReply) => void>;
  /** It failed or exited: sessions still waiting got an error, and new ones need another thread. */
  dead: boolean;
}

let nextSession = 1;

function startHashThread(): HashThread {
  // Bun's Web Worker, not node:worker_threads: the node:worker_threads wrapper (its module on both sides,
  // its event emitters) cost ~6 MiB more RSS per thread (issue 24: peak RSS against a bare Bun script).
  // (Typed as Bun's: the DOM lib's Worker lacks unref().)
  const worker = new Worker(HASH_WORKER) as unknown as Bun.Worker;
  worker.unref();
  const thread: HashThread = { worker, sessions: new Map(), dead: false };
  worker.addEventListener("message", (event: Event) => {
    const { session, message } = (event as MessageEvent<HashReplyEnvelope>).data;
    thread.sessions.get(session)?.(message);
  });
  const end = (message: string) => {
    if (thread.dead) return;
    thread.dead = true;
    for (const receive of thread.sessions.values()) receive({ type: "error", message });
  };
  worker.addEventListener("error", (event: Event) => end((event as ErrorEvent).message));
  worker.addEventListener("messageerror", () => end("the hash thread could not read a message"));
  // Bun's Worker emits "close" when the thread ends (terminate() or an uncaught error).
  worker.addEventListener("close", (event: Event) =>
    end(`the hash thread exited (${(event as CloseEvent).code})`),
  );
  return thread;
}

/** The one thread the small downloads that overlap share (started by the second of them, kept for later). */
let sharedThread: HashThread | undefined;
/** Small downloads hashing on this thread now: a second one at the same time goes to the shared thread. */
let inlineActive = 0;

/**
 * Hash on arrival: hands the worker thread (hash-worker.ts) each stretch of the output's contiguous prefix
 * as soon as it is readable from storage, while later bytes still arrive, so the check after the last byte
 * covers only the tail. `pump()` is synchronous and cheap: it only posts messages. With `inline` (small
 * outputs, see INLINE_HASH_MAX_BYTES) the session runs on this thread, where a thread's start would cost more
 * than the hashing; but while another small download already hashes here (a batch, `-j 8`), it goes to one
 * hash thread all small downloads share, so the hashing of many files leaves the download thread too.
 */
export class PrefixHasher {
  readonly #thread: HashThread | undefined;
  /** The thread is this download's own (a large one): terminated when done. */
  readonly #ownThread: boolean;
  readonly #session = nextSession++;
  readonly #inline: ((message: HashWorkerRequest) => void) | undefined;
  /** On the shared thread: messages held until `finish` sends them in one post. */
  readonly #held: HashWorkerRequest[] = [];
  #closed = false;
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
    const alone = inline && inlineActive === 0;
    this.#ownThread = !inline;
    if (alone) {
      inlineActive += 1;
      this.#inline = hashSession((reply) => this.#receive(reply), 1 << 20);
    } else {
      if (inline && (sharedThread === undefined || sharedThread.dead)) sharedThread = startHashThread();
      const thread = inline && sharedThread !== undefined ? sharedThread : startHashThread();
      thread.sessions.set(this.#session, (reply) => this.#receive(reply));
      this.#thread = thread;
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

  /**
   * Queues every newly readable stretch of the prefix. Never blocks. On the shared thread a small download is
   * hashed in one piece when its last byte is stored (`finish`): a message per tick and download cost the
   * download thread more than the hashing it moved.
   */
  pump(): void {
    if (this.#thread !== undefined && !this.#ownThread) return;
    this.#queueReadable();
  }

  #queueReadable(): void {
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
    this.#queueReadable();
    return new Promise<PrefixDigests>((resolve, reject) => {
      if (this.#error !== undefined) return reject(this.#error);
      this.#onDigests = resolve;
      this.#onError = reject;
      this.#post({ type: "finish" });
    }).finally(() => this.close());
  }

  /** Ends the session (pause, failure, or after the digests); stops a thread of its own. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inline !== undefined) inlineActive -= 1;
    const thread = this.#thread;
    if (thread === undefined) return;
    thread.sessions.delete(this.#session);
    if (!this.#ownThread) {
      // The shared thread keeps running for the next files. A session closed before `finish` never reached
      // it (its messages were held); one closed after has its digests, and the thread has let it go.
      this.#held.length = 0;
      return;
    }
    // terminate() holds the calling thread for tens of ms (68 ms in a profile of a 128 MiB run) while the
    // worker's isolate is torn down: off the path to the result line. The timer does not keep the process
    // alive; a process that exits first takes the thread with it, a long-lived one (dlm serve) frees it.
    setTimeout(() => void thread.worker.terminate(), 0).unref();
  }

  #post(message: HashWorkerRequest): void {
    if (this.#inline !== undefined) {
      this.#inline(message);
      return;
    }
    const thread = this.#thread;
    if (thread === undefined) return;
    if (!this.#ownThread) {
      this.#held.push(message);
      if (message.type !== "finish") return;
    }
    const batch = this.#ownThread ? message : this.#held.splice(0);
    thread.worker.postMessage({
      session: this.#session,
      message: batch,
    } satisfies HashEnvelope<HashWorkerRequest>);
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
