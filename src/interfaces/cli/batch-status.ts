import type { TextSink } from "../../context.ts";
import type { ManagerEvent } from "../../manager/manager-events.ts";
import { formatBytes, formatRate } from "../shared/format.ts";

/** Erases the status line (carriage return, erase to end of line). */
const CLEAR = "\r\x1b[K";

/**
 * The one line a batch redraws on a terminal's stderr, about 4 times a second: files done of all, how many
 * run now, bytes so far and the combined rate. Result lines (stdout) and failures (stderr) are written
 * between redraws: `clear` first, so they never land in the middle of it.
 */
export class BatchStatus {
  readonly #out: TextSink;
  readonly #total: number;
  #shown = false;
  #ended = 0;
  #endedBytes = 0;

  constructor(out: TextSink, total: number) {
    this.#out = out;
    this.#total = total;
  }

  /** A download ended (finished or failed) with `bytes` on disk. */
  ended(bytes: number): void {
    this.#ended++;
    this.#endedBytes += bytes;
  }

  /** Feeds a manager event; redraws on the progress ticks. */
  onEvent(event: ManagerEvent): void {
    if (event.kind !== "tick") return;
    let running = 0;
    for (const download of event.progress) {
      // One that just ended is counted by `ended` already.
      if (download.state !== "finished" && download.state !== "failed") running += download.bytesDownloaded;
    }
    const line = `dlm: ${this.#ended}/${this.#total} done, ${event.stats.active} running, ${formatBytes(this.#endedBytes + running)}, ${formatRate(event.stats.bytesPerSecond)}`;
    this.#out.write(`${CLEAR}${line}`);
    this.#shown = true;
  }

  /** Takes the line away (before other output, and at the end). */
  clear(): void {
    if (!this.#shown) return;
    this.#out.write(CLEAR);
    this.#shown = false;
  }
}
