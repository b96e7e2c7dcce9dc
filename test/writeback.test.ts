import { expect, test } from "bun:test";
import { Writeback } from "../src/engine/writeback.ts";

/** A flush the test completes by hand, so the order of events is explicit. */
function manualFlush() {
  const calls: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, flush };
}

test("flushes once enough is dirty, one flush at a time, and again when more was written meanwhile", async () => {
  const { calls, flush } = manualFlush();
  let written = 0;
  const errors: unknown[] = [];
  const writeback = new Writeback({
    flush,
    written: () => written,
    thresholdBytes: 100,
    onError: (e) => errors.push(e),
  });
  written = 99;
  writeback.poke();
  expect(calls.length).toBe(0);
  written = 100;
  writeback.poke();
  writeback.poke();
  expect(calls.length).toBe(1);
  written = 250;
  calls[0]?.resolve();
  await Bun.sleep(0);
  expect(calls.length).toBe(2);
  calls[1]?.resolve();
  await Bun.sleep(0);
  expect(calls.length).toBe(2);
  expect(errors).toEqual([]);
  await writeback.stop();
});

test("a failed flush is reported once and stops further flushes", async () => {
  const { calls, flush } = manualFlush();
  let written = 0;
  const errors: unknown[] = [];
  const writeback = new Writeback({
    flush,
    written: () => written,
    thresholdBytes: 10,
    onError: (e) => errors.push(e),
  });
  written = 10;
  writeback.poke();
  const eio = new Error("EIO");
  calls[0]?.reject(eio);
  await Bun.sleep(0);
  written = 1000;
  writeback.poke();
  expect(errors).toEqual([eio]);
  expect(calls.length).toBe(1);
});

test("stop waits for the running flush", async () => {
  const { calls, flush } = manualFlush();
  const writeback = new Writeback({ flush, written: () => 10, thresholdBytes: 1, onError: () => undefined });
  // Constructed with 10 already written: nothing is dirty until more arrives.
  writeback.poke();
  expect(calls.length).toBe(0);
  const w2 = new Writeback({
    flush,
    written: (() => {
      let n = 0;
      return () => (n += 5);
    })(),
    thresholdBytes: 1,
    onError: () => undefined,
  });
  w2.poke();
  expect(calls.length).toBe(1);
  let stopped = false;
  const stopping = w2.stop().then(() => {
    stopped = true;
  });
  await Bun.sleep(0);
  expect(stopped).toBe(false);
  calls[0]?.resolve();
  await stopping;
  expect(stopped).toBe(true);
  await writeback.stop();
});
