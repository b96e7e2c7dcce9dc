import { expect, test } from "bun:test";
import { Writeback } from "../src/engine/writeback.ts";

interface FlushCall {
  resolve(): void;
  reject(error: unknown): void;
  /**
   * Settles after the Writeback's own handler of this flush ran: it is attached when read, after Writeback
   * attached its handler, and handlers run in the order they were added.
   */
  readonly handled: Promise<void>;
}

/**
 * A Writeback whose flushes the test completes by hand, so the order of events is explicit; `written` is
 * the byte counter it reads.
 */
function manualWriteback(thresholdBytes: number, initiallyWritten = 0) {
  const calls: FlushCall[] = [];
  const errors: unknown[] = [];
  const state = { written: initiallyWritten };
  const writeback = new Writeback({
    flush: () => {
      let resolve = () => {};
      let reject: (error: unknown) => void = () => {};
      const flushing = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      calls.push({
        resolve,
        reject,
        get handled() {
          return flushing.then(
            () => undefined,
            () => undefined,
          );
        },
      });
      return flushing;
    },
    written: () => state.written,
    thresholdBytes,
    onError: (error) => errors.push(error),
  });
  return { writeback, calls, errors, state };
}

test("flushes once enough is dirty, one flush at a time, and again when more was written meanwhile", async () => {
  const { writeback, calls, errors, state } = manualWriteback(100);
  state.written = 99;
  writeback.poke();
  expect(calls.length).toBe(0);
  state.written = 100;
  writeback.poke();
  writeback.poke();
  expect(calls.length).toBe(1);
  state.written = 250;
  calls[0]?.resolve();
  await calls[0]?.handled;
  expect(calls.length).toBe(2);
  calls[1]?.resolve();
  await calls[1]?.handled;
  expect(calls.length).toBe(2);
  expect(errors).toEqual([]);
  await writeback.stop();
});

test("a failed flush is reported once and stops further flushes", async () => {
  const { writeback, calls, errors, state } = manualWriteback(10);
  state.written = 10;
  writeback.poke();
  const eio = new Error("EIO");
  calls[0]?.reject(eio);
  await calls[0]?.handled;
  state.written = 1000;
  writeback.poke();
  expect(errors).toEqual([eio]);
  expect(calls.length).toBe(1);
});

test("bytes written before it was made are not dirty", () => {
  const { writeback, calls } = manualWriteback(1, 10);
  writeback.poke();
  expect(calls.length).toBe(0);
});

test("stop waits for the running flush", async () => {
  const { writeback, calls, state } = manualWriteback(1);
  state.written = 5;
  writeback.poke();
  expect(calls.length).toBe(1);
  let stopped = false;
  const stopping = writeback.stop().then(() => {
    stopped = true;
  });
  await Promise.resolve();
  expect(stopped).toBe(false);
  calls[0]?.resolve();
  await stopping;
  expect(stopped).toBe(true);
});
