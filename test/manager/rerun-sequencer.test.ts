// The manager's two small units: "run now or once more after" and the in-order event delivery.
import { describe, expect, test } from "bun:test";
import type { StoredEvent } from "../../src/manager/download-record.ts";
import { EventSequencer } from "../../src/manager/event-sequencer.ts";
import { Rerun } from "../../src/manager/rerun.ts";

describe("Rerun", () => {
  test("requests during a run collapse into exactly one more run", async () => {
    const gates: (() => void)[] = [];
    let runs = 0;
    const rerun = new Rerun(
      () => {
        runs++;
        return new Promise<void>((resolve) => gates.push(resolve));
      },
      () => undefined,
    );
    rerun.request();
    rerun.request();
    rerun.request();
    expect(runs).toBe(1);
    gates.shift()?.();
    await Promise.resolve();
    await Bun.sleep(0);
    expect(runs).toBe(2);
    gates.shift()?.();
    await rerun.idle();
    expect(runs).toBe(2);
    expect(rerun.busy).toBe(false);
  });

  test("a failing run goes to onError and does not stop later runs; disabled, requests do nothing", async () => {
    const errors: unknown[] = [];
    let enabled = true;
    let runs = 0;
    const rerun = new Rerun(
      async () => {
        runs++;
        throw new Error("boom");
      },
      (error) => errors.push(error),
      () => enabled,
    );
    rerun.request();
    await rerun.idle();
    rerun.request();
    await rerun.idle();
    enabled = false;
    rerun.request();
    await rerun.idle();
    expect(runs).toBe(2);
    expect(errors.length).toBe(2);
  });
});

function event(seq: number): StoredEvent {
  return { seq, downloadId: 1, kind: "changed", record: {} as StoredEvent["record"] };
}

describe("EventSequencer", () => {
  test("delivers in seq order, holding events that overtook earlier ones, none twice", () => {
    const out: number[] = [];
    const sequencer = new EventSequencer(10, (e) => out.push(e.seq));
    for (const seq of [9, 10, 12, 14, 11, 11, 13, 15, 12]) sequencer.push(event(seq));
    expect(out).toEqual([11, 12, 13, 14, 15]);
    expect(sequencer.delivered).toBe(15);
  });

  test("skipTo goes on after a gap of pruned events, then delivers what was held after it", () => {
    const out: number[] = [];
    const sequencer = new EventSequencer(0, (e) => out.push(e.seq));
    sequencer.push(event(5));
    sequencer.push(event(6));
    expect(out).toEqual([]);
    sequencer.skipTo(4);
    expect(out).toEqual([5, 6]);
  });
});
