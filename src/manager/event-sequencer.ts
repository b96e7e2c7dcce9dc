import type { StoredEvent } from "./download-record.ts";

/**
 * Delivers stored events strictly in seq order, none twice: an event that overtook an earlier one (two
 * writes committed in one order, their answers arriving in the other) is held until the gap is filled.
 * Sequence numbers are gap-free in every store (see Store), so a gap always fills, or is skipped on
 * purpose with `skipTo` (events pruned before this process read them).
 */
export class EventSequencer {
  readonly #deliver: (event: StoredEvent) => void;
  readonly #pending = new Map<number, StoredEvent>();
  #delivered: number;

  /** `lastSeq`: the last event already known (none after it is delivered twice); `deliver` must not throw. */
  constructor(lastSeq: number, deliver: (event: StoredEvent) => void) {
    this.#delivered = lastSeq;
    this.#deliver = deliver;
  }

  /** The last seq delivered. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Takes an event: delivers it and any held ones that follow it, or holds it until its turn. */
  push(event: StoredEvent): void {
    if (event.seq <= this.#delivered) return;
    this.#pending.set(event.seq, event);
    for (
      let next = this.#pending.get(this.#delivered + 1);
      next !== undefined;
      next = this.#pending.get(this.#delivered + 1)
    ) {
      this.#pending.delete(next.seq);
      this.#delivered = next.seq;
      this.#deliver(next);
    }
  }

  /** Goes on after `seq` as if every event up to it had been delivered (they were pruned unread). */
  skipTo(seq: number): void {
    if (seq <= this.#delivered) return;
    this.#delivered = seq;
    for (const held of this.#pending.keys()) if (held <= seq) this.#pending.delete(held);
    const next = this.#pending.get(seq + 1);
    if (next !== undefined) {
      this.#pending.delete(next.seq);
      this.push(next);
    }
  }
}
