// A download is claimed (its row stored "running", leased to this node) a moment before its job is
// registered. A pause, remove or new URL that arrives in that moment must still reach the download.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Manager } from "../../src/manager/manager.ts";
import type { DownloadView } from "../../src/manager/manager-events.ts";
import { SqliteStore } from "../../src/manager/sql-store.ts";
import { quietContext } from "../control/fixture.ts";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

const dirs = tempDirs("dlm-claimed-");
let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

async function open() {
  const dir = await dirs.fresh();
  const store = await SqliteStore.open(join(dir, "dlm.db"));
  const manager = await Manager.start({
    store,
    ctx: quietContext(dir),
    dir,
    maxActive: 2,
    log: getLogger(["dlm", "manager"]),
  });
  return { dir, store, manager };
}

/**
 * Adds a slow download and runs `act` from inside the listener that hears of its claim: synchronously,
 * before the manager goes on to register its job. Resolves with what `act` resolved to.
 */
async function actOnClaim<T>(manager: Manager, name: string, act: (id: number) => Promise<T>): Promise<T> {
  const url = origin.serve(`/${name}`, { size: 4 << 20, throttleBytesPerSec: 1 << 20 });
  const acted = new Promise<T>((resolve, reject) => {
    const unsubscribe = manager.subscribe((message) => {
      if (message.kind !== "stored" || message.event.record.state !== "running") return;
      unsubscribe();
      // The job is not registered yet: the claim's event is delivered before the start.
      expect(manager.progress(message.event.downloadId)).toBeUndefined();
      act(message.event.downloadId).then(resolve, reject);
    });
  });
  await manager.add(newDownload(url, { connections: 2 }));
  return acted;
}

/** The progress of the next `count` ticks. */
function nextTicks(manager: Manager, count: number): Promise<(readonly DownloadView[])[]> {
  const ticks: (readonly DownloadView[])[] = [];
  return new Promise((resolve) => {
    const unsubscribe = manager.subscribe((message) => {
      if (message.kind !== "tick") return;
      ticks.push(message.progress);
      if (ticks.length < count) return;
      unsubscribe();
      resolve(ticks);
    });
  });
}

test("a pause that arrives between the claim and the job's start pauses the download", async () => {
  const { manager, store } = await open();
  const [paused] = await actOnClaim<DownloadView[]>(manager, "pause.bin", (id) => manager.pause([id]));
  expect(paused?.state).toBe("paused");
  expect(manager.progress(paused?.id ?? 0)).toBeUndefined();
  expect((await manager.stats()).active).toBe(0);
  await manager.stop();
  await store.close();
});

test("a remove that arrives between the claim and the job's start stops the download, then forgets it", async () => {
  const { dir, manager, store } = await open();
  let removedId = 0;
  const removed = await actOnClaim(manager, "remove.bin", (id) => {
    removedId = id;
    return manager.remove([id], true);
  });
  expect(removed).toEqual([removedId]);
  // Its job ended before the row went: the next two progress ticks (every 250 ms) show nothing running,
  // and nothing is being written.
  for (const tick of await nextTicks(manager, 2)) expect(tick.map((view) => view.id)).toEqual([]);
  expect((await manager.stats()).active).toBe(0);
  expect(existsSync(join(dir, "remove.bin.dlm"))).toBe(false);
  await manager.stop();
  await store.close();
});
