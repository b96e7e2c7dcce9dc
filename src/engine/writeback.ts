/**
 * Keeps the kernel writing the output to disk while the download runs. Left alone, Linux starts writeback
 * only when dirty pages reach a share of RAM, so a 1 GiB download ends with 1 GiB still in memory and the
 * final fsync (which a verified, durable file needs) waits over a second for the disk. Flushing in the
 * background as soon as a few MiB are dirty overlaps that disk time with the network time.
 *
 * One flush at a time; a new one starts when enough new bytes were written since the last one began.
 * A failed flush is reported, never swallowed: Linux reports a writeback error once per open file, so a
 * later fsync of the same file could succeed while the bytes are lost.
 */
export class Writeback {
  readonly #flush: () => Promise<void>;
  readonly #written: () => number;
  readonly #thresholdBytes: number;
  readonly #onError: (error: unknown) => void;
  #flushing: Promise<void> | undefined;
  #flushedUpTo: number;
  #stopped = false;

  /**
   * @param flush makes written bytes durable (fdatasync of the output).
   * @param written bytes written so far this run (a counter that only grows).
   */
  constructor(options: {
    readonly flush: () => Promise<void>;
    readonly written: () => number;
    readonly thresholdBytes: number;
    readonly onError: (error: unknown) => void;
  }) {
    this.#flush = options.flush;
    this.#written = options.written;
    this.#thresholdBytes = options.thresholdBytes;
    this.#onError = options.onError;
    this.#flushedUpTo = options.written();
  }

  /** Starts a flush if enough is dirty and none is running. Cheap; call it on every tick. */
  poke(): void {
    if (this.#stopped || this.#flushing !== undefined) return;
    const mark = this.#written();
    if (mark - this.#flushedUpTo < this.#thresholdBytes) return;
    this.#flushing = this.#flush().then(
      () => {
        this.#flushedUpTo = mark;
        this.#flushing = undefined;
        this.poke();
      },
      (error: unknown) => {
        this.#stopped = true;
        this.#flushing = undefined;
        this.#onError(error);
      },
    );
  }

  /** Starts no more flushes and waits for the running one, so the file can be closed safely. */
  async stop(): Promise<void> {
    this.#stopped = true;
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
  }
}
