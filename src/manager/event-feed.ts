import type { Logger } from "@logtape/logtape";
import type { StoredEvent } from "./download-record.ts";
import { EventSequencer } from "./event-sequencer.ts";
import type { ManagerEvent, ManagerListener } from "./manager-events.ts";
import { Rerun } from "./rerun.ts";
import type { Store } from "./store.ts";

/** How an EventFeed works. */
export interface EventFeedOptions {
  readonly store: Store;
  /** The last stored event when the manager opened (none up to it is delivered). */
  readonly lastSeq: number;
  /** Stored events kept for replays, and their payload bytes (pruned past 1.25 × these). */
  readonly keepEvents: number;
  readonly keepEventBytes: number;
  /** Turns the event as stored into the one listeners get (secrets hidden, live progress); runs first. */
  readonly publish: (event: StoredEvent) => StoredEvent;
  /** Called when reading the feed brought events of other nodes (they may have queued work). */
  readonly onRead: () => void;
  /** False once the manager stops: no more reads. */
  readonly enabled: () => boolean;
  readonly log: Logger;
}

/** Page size of a feed read. */
const PAGE = 500;

/**
 * Stored events to listeners, in seq order and none twice (event-sequencer.ts), whether this process
 * stored them or another node did (read from a shared store's feed); the stored events stay bounded in
 * count and bytes while the daemon runs.
 */
export class EventFeed {
  readonly #options: EventFeedOptions;
  readonly #listeners = new Set<ManagerListener>();
  readonly #sequencer: EventSequencer;
  readonly #reader: Rerun;
  readonly #pruner: Rerun;
  /** Events and payload bytes delivered since the last prune. */
  #sincePrune = { events: 0, bytes: 0 };

  constructor(options: EventFeedOptions) {
    this.#options = options;
    this.#sequencer = new EventSequencer(options.lastSeq, (event) => this.#publish(event));
    this.#reader = new Rerun(
      () => this.#read(),
      (error) => options.log.warn("reading the event feed failed: {error}", { error }),
      options.enabled,
    );
    this.#pruner = new Rerun(
      () => options.store.pruneEvents(options.keepEvents, options.keepEventBytes),
      (error) => options.log.warn("pruning events failed: {error}", { error }),
    );
  }

  /** The last seq delivered. */
  get delivered(): number {
    return this.#sequencer.delivered;
  }

  /** True when someone listens. */
  get listened(): boolean {
    return this.#listeners.size > 0;
  }

  /** Adds a listener; returns its removal. */
  subscribe(listener: ManagerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers a stored event, in its turn. */
  deliver(event: StoredEvent): void {
    this.#sequencer.push(event);
  }

  /** Tells every listener a message that is not stored (a progress tick). */
  broadcast(message: ManagerEvent): void {
    for (const listener of this.#listeners) listener(message);
  }

  /** Reads the events other nodes stored, now or once more after the read in flight. */
  pull(): void {
    this.#reader.request();
  }

  /** Resolves once no read nor prune is in flight. */
  async idle(): Promise<void> {
    await this.#reader.idle();
    await this.#pruner.idle();
  }

  #publish(event: StoredEvent): void {
    this.#countForPrune(event);
    this.broadcast({ kind: "stored", event: this.#options.publish(event) });
  }

  /**
   * Prunes the stored events once a quarter of their bounds (count or bytes) was added since the last
   * prune, so they stay within 1.25 × the bounds while the daemon runs, not only at start.
   */
  #countForPrune(event: StoredEvent): void {
    const { keepEvents, keepEventBytes } = this.#options;
    this.#sincePrune.events++;
    this.#sincePrune.bytes += JSON.stringify(event.record).length;
    if (this.#sincePrune.events * 4 < keepEvents && this.#sincePrune.bytes * 4 < keepEventBytes) return;
    this.#sincePrune = { events: 0, bytes: 0 };
    this.#pruner.request();
  }

  async #read(): Promise<void> {
    const before = this.delivered;
    for (;;) {
      const page = await this.#options.store.eventsAfter(this.delivered, PAGE);
      const first = page[0];
      if (first !== undefined && first.seq > this.delivered + 1) {
        // Pruned before this node read them (it was far behind): go on from what is kept.
        this.#options.log.warn("events {from}..{to} were pruned before this node read them", {
          from: this.delivered + 1,
          to: first.seq - 1,
        });
        this.#sequencer.skipTo(first.seq - 1);
      }
      for (const event of page) this.deliver(event);
      if (page.length < PAGE) break;
    }
    if (this.delivered !== before) this.#options.onRead();
  }
}
