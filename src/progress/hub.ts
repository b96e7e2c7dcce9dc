import { isTerminalState, type ProgressSnapshot } from "./snapshot.ts";

/**
 * One watcher's view of a download: an async iterable of snapshots, one iteration per subscription.
 * It yields the latest snapshot at subscription time (if any), then each newer one the consumer is ready
 * for; snapshots published while the consumer is busy are coalesced into the newest (a one-slot mailbox).
 * Iteration ends after a terminal snapshot (finished, failed, cancelled) has been yielded, after the hub is
 * closed and the mailbox drained, or at once on `close()` / abort of the subscription's signal.
 */
export interface Subscription extends AsyncIterable<ProgressSnapshot> {
  /** Ends the iteration now: a pending `next()` resolves as done, an unread snapshot is dropped. Idempotent. */
  close(): void;
  /** True once the subscription no longer receives snapshots from the hub. */
  readonly closed: boolean;
  /** Snapshots held unread: 0 or 1, whatever the publish rate (exposed to test that memory is bounded). */
  pending(): number;
}

/**
 * Fan-out of progress snapshots to any number of subscribers and synchronous listeners. `publish` is
 * O(subscribers + listeners) and never waits for a consumer, so a slow or stuck watcher cannot slow the
 * meter or the workers behind it.
 */
export class ProgressHub {
  #latest: ProgressSnapshot | undefined;
  #closed = false;
  readonly #subscribers = new Set<HubSubscription>();
  readonly #listeners = new Set<(snapshot: ProgressSnapshot) => void>();

  /**
   * Stores `snapshot` as the latest, drops it into every subscriber's mailbox (replacing an unread one) and
   * calls each `onPublish` listener synchronously. A throwing listener does not keep the others from running;
   * the first error is rethrown once all have been called. After `close()` only the latest snapshot and the
   * listeners are updated.
   */
  publish(snapshot: ProgressSnapshot): void {
    this.#latest = snapshot;
    for (const subscriber of this.#subscribers) subscriber.deliver(snapshot);
    let failure: { error: unknown } | undefined;
    for (const listener of this.#listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  /** The most recently published snapshot, undefined before the first publish. */
  latest(): ProgressSnapshot | undefined {
    return this.#latest;
  }

  /**
   * Opens a subscription that starts with the latest snapshot (if any). Aborting `signal` ends it at once and
   * removes it from the hub, even while its consumer awaits `next()`. Subscribing to a closed hub, or after a
   * terminal snapshot, yields the latest snapshot (if any) and then ends.
   */
  subscribe(signal?: AbortSignal): Subscription {
    const subscription = new HubSubscription(this.#latest, !this.#closed, signal, (s) =>
      this.#subscribers.delete(s),
    );
    if (!subscription.closed) this.#subscribers.add(subscription);
    return subscription;
  }

  /** Number of live subscriptions (a disconnected or finished watcher no longer counts). */
  subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Calls `listener` synchronously on every publish (for the terminal renderer, which draws in-line).
   * Returns a function that removes the listener.
   */
  onPublish(listener: (snapshot: ProgressSnapshot) => void): () => void {
    // Wrap so the same function registered twice is two registrations, each removed by its own unsubscribe.
    const entry = (snapshot: ProgressSnapshot): void => listener(snapshot);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Ends every subscription: each still yields its unread snapshot (so a terminal one published just before
   * is not lost), then ends; a pending `next()` resolves as done. Later subscriptions end after the latest.
   */
  close(): void {
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.detach(true);
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

type Waiter = (result: IteratorResult<ProgressSnapshot, undefined>) => void;

/** The one-slot mailbox behind `Subscription`; it is its own iterator. */
class HubSubscription implements Subscription, AsyncIterator<ProgressSnapshot, undefined> {
  #mailbox: ProgressSnapshot | undefined;
  #open: boolean;
  /** Consumers blocked in `next()`; only non-empty while the mailbox is empty. */
  readonly #waiters: Waiter[] = [];
  readonly #signal: AbortSignal | undefined;
  readonly #onDetach: (subscription: HubSubscription) => void;
  readonly #onAbort = (): void => this.detach(false);

  constructor(
    initial: ProgressSnapshot | undefined,
    attach: boolean,
    signal: AbortSignal | undefined,
    onDetach: (subscription: HubSubscription) => void,
  ) {
    this.#signal = signal;
    this.#onDetach = onDetach;
    this.#mailbox = signal?.aborted ? undefined : initial;
    this.#open =
      attach && signal?.aborted !== true && !(initial !== undefined && isTerminalState(initial.state));
    if (this.#open) signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get closed(): boolean {
    return !this.#open;
  }

  pending(): number {
    return this.#mailbox === undefined ? 0 : 1;
  }

  /** Hands `snapshot` to a waiting consumer or overwrites the mailbox; a terminal one detaches (kept unread). */
  deliver(snapshot: ProgressSnapshot): void {
    if (!this.#open) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#mailbox = snapshot;
    else waiter({ done: false, value: snapshot });
    if (isTerminalState(snapshot.state)) this.detach(true);
  }

  /** Stops receiving; `keepMailbox` lets the consumer still read the unread snapshot before the end. */
  detach(keepMailbox: boolean): void {
    if (this.#open) {
      this.#open = false;
      this.#onDetach(this);
      this.#signal?.removeEventListener("abort", this.#onAbort);
    }
    if (!keepMailbox) this.#mailbox = undefined;
    if (this.#mailbox === undefined) for (const waiter of this.#waiters.splice(0)) waiter(DONE);
  }

  close(): void {
    this.detach(false);
  }

  next(): Promise<IteratorResult<ProgressSnapshot, undefined>> {
    const snapshot = this.#mailbox;
    if (snapshot !== undefined) {
      this.#mailbox = undefined;
      return Promise.resolve({ done: false, value: snapshot });
    }
    if (!this.#open) return Promise.resolve(DONE);
    return new Promise<IteratorResult<ProgressSnapshot, undefined>>((resolve) => this.#waiters.push(resolve));
  }

  /** Called by `for await` on break or throw: the consumer is gone, so free the subscription. */
  return(): Promise<IteratorResult<ProgressSnapshot, undefined>> {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<ProgressSnapshot, undefined> {
    return this;
  }
}
