// Manager.move is one server-side operation: the download goes to its place and the others shift, so no two
// downloads ever share a position, even with moves and position Updates racing each other.
import { afterAll, expect, test } from "bun:test";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { openManager } from "./manager-fixture.ts";

const dirs = tempDirs("dlm-move-");
afterAll(() => dirs.removeAll());

test("move and Update of position shift the others; positions stay unique under concurrent moves", async () => {
  const { store, manager, events } = await openManager(dirs, { maxActive: 1 });
  const ids: number[] = [];
  for (let i = 0; i < 6; i++) {
    ids.push((await manager.add(newDownload(`http://127.0.0.1:9/${i}`, { state: "paused" }))).record.id);
  }
  const order = async () => (await manager.list()).map((view) => view.id);
  const moved = await manager.move(ids[5] ?? 0, 1);
  expect(moved?.position).toBe(1);
  expect(await order()).toEqual([5, 0, 1, 2, 3, 4].map((i) => ids[i] ?? -1));
  // Every shifted row was told to listeners (the dashboard redraws from them).
  const told = events.flatMap((e) => (e.kind === "stored" ? [e.event.downloadId] : []));
  expect(told.slice(-6).sort()).toEqual([...ids].sort());
  // An Update of position is a move too.
  await manager.update(ids[0] ?? 0, { position: 6 });
  expect(await order()).toEqual([5, 1, 2, 3, 4, 0].map((i) => ids[i] ?? -1));
  await Promise.all(ids.map((id, i) => manager.move(id, ((i * 7) % 6) + 1)));
  const positions = (await manager.list()).map((view) => view.position);
  expect(new Set(positions).size).toBe(6);
  expect(await manager.move(12345, 1)).toBeUndefined();
  await expect(manager.move(ids[0] ?? 0, 2 ** 64)).rejects.toThrow("position: expected an integer");
  await manager.stop();
  await store.close();
});
