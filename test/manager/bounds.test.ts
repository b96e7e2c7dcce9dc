// What a client can store is bounded: numbers within 2^53−1, headers within MAX_HEADER_BYTES, and the stored
// events in count and bytes while the daemon runs. A row written before these checks still lists.
import { afterAll, describe, expect, test } from "bun:test";
import { toBinary } from "@bufbuild/protobuf";
import { UsageError } from "../../src/errors.ts";
import { DownloadSchema } from "../../src/gen/dlm/v1/download_pb.ts";
import { toDownload } from "../../src/interfaces/rpc/download-message.ts";
import { MAX_HEADER_BYTES } from "../../src/manager/input-bounds.ts";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { openManager } from "./manager-fixture.ts";

const dirs = tempDirs("dlm-bounds-");
afterAll(() => dirs.removeAll());

function open(keepEvents?: number, keepEventBytes?: number) {
  return openManager(dirs, {
    maxActive: 1,
    ...(keepEvents === undefined ? {} : { keepEvents }),
    ...(keepEventBytes === undefined ? {} : { keepEventBytes }),
  });
}

const PAUSED = newDownload("http://127.0.0.1:9/x.bin", { state: "paused" });

describe("numbers", () => {
  test.each([
    ["position", { position: 2 ** 64 }],
    ["speed_limit", { speedLimit: 2 ** 64 - 1 }],
    ["priority", { priority: 2 ** 63 }],
    ["connections", { connections: 2 ** 53 }],
    ["position", { position: -1 }],
    ["speed_limit", { speedLimit: 1.5 }],
  ] as const)("Update of %s %p is refused with a UsageError naming it", async (field, patch) => {
    const { store, manager } = await open();
    const id = (await manager.add(PAUSED)).record.id;
    const update = manager.update(id, patch);
    await expect(update).rejects.toBeInstanceOf(UsageError);
    await expect(update).rejects.toThrow(`${field}: expected an integer`);
    await expect(manager.add({ ...PAUSED, ...patch })).rejects.toBeInstanceOf(UsageError);
    await manager.stop();
    await store.close();
  });

  test("SetGlobalLimit of 2^64 is refused; 2^53−1 is taken", async () => {
    const { store, manager } = await open();
    expect(() => manager.setGlobalLimit(2 ** 64)).toThrow("speed_limit: expected an integer");
    manager.setGlobalLimit(Number.MAX_SAFE_INTEGER);
    expect((await manager.stats()).globalLimit).toBe(Number.MAX_SAFE_INTEGER);
    await manager.stop();
    await store.close();
  });

  test("a row stored with position 2^64 (before the check) is clamped: List, Get and the wire still work", async () => {
    const { store, manager } = await open();
    const id = (await manager.add(PAUSED)).record.id;
    await store.update(id, { position: 2 ** 64, speedLimit: 2 ** 64 }, Date.now());
    const [view] = await manager.list();
    expect(view?.position).toBe(Number.MAX_SAFE_INTEGER);
    expect(view?.speedLimit).toBe(Number.MAX_SAFE_INTEGER);
    expect(toBinary(DownloadSchema, toDownload(view ?? PAUSED_VIEW)).length).toBeGreaterThan(0);
    // Its event, replayed to a WatchAll from an older seq, is clamped the same way.
    const replayed = (await store.eventsAfter(0, 100)).at(-1)?.record;
    expect(replayed?.position).toBe(Number.MAX_SAFE_INTEGER);
    expect(
      toBinary(DownloadSchema, toDownload({ bytesPerSecond: 0, ...(replayed ?? PAUSED_VIEW) })).length,
    ).toBeGreaterThan(0);
    await manager.stop();
    await store.close();
  });
});

const PAUSED_VIEW = { ...PAUSED, id: 0 } as never;

describe("headers", () => {
  test("more than MAX_HEADER_BYTES together, a bad name or a line break is refused", async () => {
    const { store, manager } = await open();
    const big = [["X-Pad", "p".repeat(MAX_HEADER_BYTES)]] as const;
    await expect(manager.add({ ...PAUSED, headers: big })).rejects.toThrow("headers: at most");
    await expect(manager.add({ ...PAUSED, headers: [["Bad Name", "v"]] })).rejects.toThrow(
      "not a header name",
    );
    await expect(manager.add({ ...PAUSED, headers: [["X-A", "a\r\nHost: evil"]] })).rejects.toThrow(
      "line break",
    );
    const id = (await manager.add(PAUSED)).record.id;
    await expect(manager.update(id, { headers: big })).rejects.toBeInstanceOf(UsageError);
    await manager.stop();
    await store.close();
  });
});

describe("stored events", () => {
  test("stay bounded in count while the daemon runs (not only at start)", async () => {
    const { store, manager } = await open(40);
    const id = (await manager.add(PAUSED)).record.id;
    for (let i = 0; i < 300; i++) await manager.update(id, { priority: i });
    // The store runs its calls in turn: this read comes after every prune asked so far.
    const kept = await store.eventsAfter(0, 100_000);
    expect(kept.length).toBeLessThanOrEqual(50);
    expect(kept.at(-1)?.record.priority).toBe(299);
    await manager.stop();
    await store.close();
  });

  test("stay bounded in bytes while the daemon runs", async () => {
    const { store, manager } = await open(100_000, 100_000);
    const id = (await manager.add({ ...PAUSED, headers: [["X-Pad", "p".repeat(8_000)]] })).record.id;
    for (let i = 0; i < 200; i++) await manager.update(id, { priority: i });
    const kept = await store.eventsAfter(0, 100_000);
    const bytes = kept.reduce((sum, event) => sum + JSON.stringify(event.record).length, 0);
    expect(bytes).toBeLessThanOrEqual(125_000 + 8_500);
    expect(kept.length).toBeGreaterThan(5);
    await manager.stop();
    await store.close();
  });
});
