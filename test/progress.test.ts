import { describe, expect, test } from "bun:test";
import { ProgressHub } from "../src/progress/hub.ts";
import { RateMeter } from "../src/progress/meter.ts";
import {
  type DownloadState,
  isTerminalState,
  type ProgressSnapshot,
  percentOf,
} from "../src/progress/snapshot.ts";

function snap(
  bytesDownloaded: number,
  state: DownloadState = "running",
  totalBytes = 1000,
): ProgressSnapshot {
  return {
    download: "/tmp/out.bin",
    url: "http://127.0.0.1/file",
    state,
    bytesDownloaded,
    totalBytes,
    percent: percentOf(bytesDownloaded, totalBytes),
    bytesPerSecond: 0,
    etaSeconds: undefined,
    activeConnections: 1,
    segments: [],
    elapsedMs: 0,
  };
}

/** Resolves after pending microtasks and one macrotask turn, so consumers blocked in next() can run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("snapshot helpers", () => {
  test("terminal states", () => {
    expect(["finished", "failed", "cancelled"].every((s) => isTerminalState(s as DownloadState))).toBe(true);
    expect(
      ["probing", "running", "paused", "verifying"].some((s) => isTerminalState(s as DownloadState)),
    ).toBe(false);
  });

  test("percentOf", () => {
    expect(percentOf(250, 1000)).toBe(25);
    expect(percentOf(5, undefined)).toBeUndefined();
    expect(percentOf(0, 0)).toBe(100);
    expect(percentOf(2000, 1000)).toBe(100);
  });
});

describe("RateMeter", () => {
  test("fewer than two samples give rate 0", () => {
    const meter = new RateMeter();
    expect(meter.rate()).toBe(0);
    meter.sample(0, 500);
    expect(meter.rate()).toBe(0);
  });

  test("steady rate", () => {
    const meter = new RateMeter(5000);
    for (let t = 0; t <= 10_000; t += 250) meter.sample(t, t * 4); // 4 bytes/ms
    expect(meter.rate()).toBe(4000);
  });

  test("a burst then idle decays to 0 once the window holds no new bytes", () => {
    const meter = new RateMeter(5000);
    for (let t = 0; t <= 1000; t += 250) meter.sample(t, t * 1000); // 1 MB/s for 1 s
    expect(meter.rate()).toBe(1_000_000);
    let previous = meter.rate();
    let t = 1250;
    for (; t <= 6000; t += 250) {
      meter.sample(t, 1_000_000);
      const rate = meter.rate();
      expect(rate).toBeLessThan(previous);
      previous = rate;
    }
    // At 6000 the window [1000, 6000] starts at the end of the burst: no bytes in it.
    expect(meter.rate()).toBe(0);
    meter.sample(t, 1_000_000);
    expect(meter.rate()).toBe(0);
  });

  test("window edges: a sample exactly windowMs old is kept, an older one dropped", () => {
    const meter = new RateMeter(1000);
    meter.sample(0, 0);
    meter.sample(500, 100);
    meter.sample(1000, 1000);
    expect(meter.sampleCount()).toBe(3);
    expect(meter.rate()).toBe(1000); // (1000 - 0) bytes over 1 s
    meter.sample(1001, 1000);
    expect(meter.sampleCount()).toBe(3);
    expect(meter.rate()).toBeCloseTo((900 * 1000) / 501, 9); // oldest is now the 500 ms sample
  });

  test("a gap longer than the window leaves one sample and rate 0", () => {
    const meter = new RateMeter(1000);
    meter.sample(0, 0);
    meter.sample(500, 500);
    meter.sample(5000, 900);
    expect(meter.sampleCount()).toBe(1);
    expect(meter.rate()).toBe(0);
  });

  test("a clock that does not advance updates the newest sample", () => {
    const meter = new RateMeter(1000);
    meter.sample(0, 0);
    meter.sample(100, 100);
    meter.sample(100, 300);
    expect(meter.sampleCount()).toBe(2);
    expect(meter.rate()).toBe(3000);
  });

  test("a shrinking total never gives a negative rate", () => {
    const meter = new RateMeter(1000);
    meter.sample(0, 1000);
    meter.sample(500, 400);
    expect(meter.rate()).toBe(0);
  });

  test("ETA", () => {
    const meter = new RateMeter(5000);
    expect(meter.eta(1000)).toBeUndefined(); // no rate yet
    meter.sample(0, 0);
    meter.sample(1000, 4000);
    expect(meter.eta(8000)).toBe(2);
    expect(meter.eta(undefined)).toBeUndefined();
    expect(meter.eta(0)).toBe(0);
  });

  test("reset forgets earlier samples", () => {
    const meter = new RateMeter(5000);
    meter.sample(0, 0);
    meter.sample(1000, 5000);
    meter.reset();
    expect(meter.sampleCount()).toBe(0);
    expect(meter.rate()).toBe(0);
    meter.sample(2000, 5000);
    meter.sample(3000, 6000);
    expect(meter.rate()).toBe(1000);
  });

  test("memory stays bounded under very frequent sampling and the window span is kept", () => {
    const meter = new RateMeter(5000, 16);
    for (let t = 0; t <= 100_000; t++) {
      meter.sample(t, t * 2);
      expect(meter.sampleCount()).toBeLessThanOrEqual(16);
    }
    expect(meter.rate()).toBeCloseTo(2000, 6);
  });

  test("rejects a bad window or capacity", () => {
    expect(() => new RateMeter(0)).toThrow(RangeError);
    expect(() => new RateMeter(1000, 1)).toThrow(RangeError);
  });
});

describe("ProgressHub", () => {
  test("200 subscribers each see monotonic progress ending at the total and the terminal state", async () => {
    const hub = new ProgressHub();
    const total = 1000;
    const readers = Array.from({ length: 200 }, async () => {
      const seen: ProgressSnapshot[] = [];
      for await (const s of hub.subscribe()) seen.push(s);
      return seen;
    });
    expect(hub.subscriberCount()).toBe(200);
    for (let bytes = 0; bytes < total; bytes += 10) {
      hub.publish(snap(bytes));
      if (bytes % 50 === 0) await turn(); // let readers drain now and then, so some see intermediate values
    }
    hub.publish(snap(total, "finished"));
    const results = await Promise.all(readers);
    for (const seen of results) {
      expect(seen.length).toBeGreaterThan(1);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.bytesDownloaded).toBeGreaterThanOrEqual(seen[i - 1]!.bytesDownloaded);
      }
      expect(seen.at(-1)!.bytesDownloaded).toBe(total);
      expect(seen.at(-1)!.state).toBe("finished");
    }
    expect(hub.subscriberCount()).toBe(0);
  });

  test("a subscriber that never reads holds only the latest of 10,000 snapshots", async () => {
    const hub = new ProgressHub();
    const stuck = hub.subscribe();
    for (let i = 0; i < 10_000; i++) {
      hub.publish(snap(i, "running", 10_000));
      expect(stuck.pending()).toBeLessThanOrEqual(1);
    }
    expect(stuck.pending()).toBe(1);
    const iterator = stuck[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(first.value?.bytesDownloaded).toBe(9999);
    expect(stuck.pending()).toBe(0);
    stuck.close();
    expect((await iterator.next()).done).toBe(true);
  });

  test("the first value is the latest snapshot at subscription time", async () => {
    const hub = new ProgressHub();
    expect(hub.latest()).toBeUndefined();
    hub.publish(snap(10));
    hub.publish(snap(20));
    expect(hub.latest()?.bytesDownloaded).toBe(20);
    const sub = hub.subscribe();
    const first = await sub[Symbol.asyncIterator]().next();
    expect(first.value?.bytesDownloaded).toBe(20);
    sub.close();
  });

  test("a terminal snapshot detaches at once but is still delivered, then iteration ends", async () => {
    const hub = new ProgressHub();
    const sub = hub.subscribe();
    hub.publish(snap(500));
    hub.publish(snap(1000, "failed"));
    expect(hub.subscriberCount()).toBe(0);
    hub.publish(snap(1000, "running")); // nothing may follow a terminal snapshot for this subscriber
    const seen: DownloadState[] = [];
    for await (const s of sub) seen.push(s.state);
    expect(seen).toEqual(["failed"]);
  });

  test("subscribing after the end yields the final snapshot, then ends", async () => {
    const hub = new ProgressHub();
    hub.publish(snap(1000, "cancelled"));
    const sub = hub.subscribe();
    expect(hub.subscriberCount()).toBe(0);
    const seen: DownloadState[] = [];
    for await (const s of sub) seen.push(s.state);
    expect(seen).toEqual(["cancelled"]);
  });

  test("abort frees the subscription while next() is pending", async () => {
    const hub = new ProgressHub();
    const controller = new AbortController();
    const sub = hub.subscribe(controller.signal);
    const pending = sub[Symbol.asyncIterator]().next();
    expect(hub.subscriberCount()).toBe(1);
    controller.abort();
    expect(hub.subscriberCount()).toBe(0);
    expect(sub.closed).toBe(true);
    expect((await pending).done).toBe(true);
  });

  test("abort drops an unread snapshot and frees the subscription", async () => {
    const hub = new ProgressHub();
    const controller = new AbortController();
    const sub = hub.subscribe(controller.signal);
    hub.publish(snap(1));
    controller.abort();
    expect(hub.subscriberCount()).toBe(0);
    expect(sub.pending()).toBe(0);
    expect((await sub[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  test("an already aborted signal gives an ended subscription", async () => {
    const hub = new ProgressHub();
    hub.publish(snap(1));
    const sub = hub.subscribe(AbortSignal.abort());
    expect(hub.subscriberCount()).toBe(0);
    expect((await sub[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  test("breaking out of for-await frees the subscription", async () => {
    const hub = new ProgressHub();
    hub.publish(snap(1));
    for await (const s of hub.subscribe()) {
      expect(s.bytesDownloaded).toBe(1);
      break;
    }
    expect(hub.subscriberCount()).toBe(0);
  });

  test("close() on a subscription ends a pending next()", async () => {
    const hub = new ProgressHub();
    const sub = hub.subscribe();
    const pending = sub[Symbol.asyncIterator]().next();
    sub.close();
    sub.close(); // idempotent
    expect(hub.subscriberCount()).toBe(0);
    expect((await pending).done).toBe(true);
  });

  test("hub.close() ends every subscription after its unread snapshot", async () => {
    const hub = new ProgressHub();
    const waiting = Array.from({ length: 5 }, () => hub.subscribe());
    const pendings = waiting.map((s) => s[Symbol.asyncIterator]().next());
    const unread = hub.subscribe();
    // `waiting` are blocked in next() and take the value at once; `unread` keeps it in its mailbox.
    hub.publish(snap(7));
    for (const p of await Promise.all(pendings)) expect(p.value?.bytesDownloaded).toBe(7);
    const next = waiting.map((s) => s[Symbol.asyncIterator]().next());
    hub.close();
    expect(hub.subscriberCount()).toBe(0);
    for (const p of await Promise.all(next)) expect(p.done).toBe(true);
    const drained: number[] = [];
    for await (const s of unread) drained.push(s.bytesDownloaded);
    expect(drained).toEqual([7]);
    const late = hub.subscribe();
    expect(late.closed).toBe(true);
    expect((await late[Symbol.asyncIterator]().next()).value?.bytesDownloaded).toBe(7);
  });

  test("a signal shared by many subscriptions keeps no listener after they end", () => {
    const hub = new ProgressHub();
    const controller = new AbortController();
    let added = 0;
    let removed = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      add(...args);
    }) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++;
      remove(...args);
    }) as typeof remove;
    for (let i = 0; i < 100; i++) hub.subscribe(signal).close();
    expect(added).toBe(100);
    expect(removed).toBe(100);
  });

  test("onPublish listeners run synchronously and can unsubscribe", () => {
    const hub = new ProgressHub();
    const seen: number[] = [];
    const off = hub.onPublish((s) => seen.push(s.bytesDownloaded));
    hub.publish(snap(1));
    expect(seen).toEqual([1]);
    off();
    hub.publish(snap(2));
    expect(seen).toEqual([1]);
  });

  test("a throwing listener does not starve the others; its error surfaces", () => {
    const hub = new ProgressHub();
    const seen: number[] = [];
    hub.onPublish(() => {
      throw new Error("renderer broke");
    });
    hub.onPublish((s) => seen.push(s.bytesDownloaded));
    expect(() => hub.publish(snap(3))).toThrow("renderer broke");
    expect(seen).toEqual([3]);
    expect(hub.latest()?.bytesDownloaded).toBe(3);
  });
});
