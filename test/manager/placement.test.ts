// Where a download writes is checked before anything is created, never inside another download's sidecar,
// and Remove with delete_files deletes only inside the download directory, whatever the row says.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { openManager } from "./manager-fixture.ts";

const dirs = tempDirs("dlm-place-");
afterAll(() => dirs.removeAll());

async function open() {
  return openManager(dirs, { maxActive: 1 }, { dbDir: await dirs.fresh() });
}

const URL_ = "http://127.0.0.1:9/f.bin";

describe("placement", () => {
  test("a directory through a symlink that leads out is refused before any directory is created", async () => {
    const { dir, store, manager } = await open();
    const outside = await dirs.fresh();
    symlinkSync(outside, join(dir, "out"));
    for (const place of [
      { directory: "out/sub/deeper" },
      { directory: "", output: "out/new/f.bin" },
      { directory: "out" },
    ]) {
      await expect(manager.add(newDownload(URL_, place))).rejects.toThrow(
        "leads out of the download directory through a symlink",
      );
    }
    expect(existsSync(join(outside, "sub"))).toBe(false);
    expect(existsSync(join(outside, "new"))).toBe(false);
    expect(await manager.list()).toEqual([]);
    await manager.stop();
    await store.close();
  });

  test("an output inside a *.dlm directory (another download's sidecar) is refused", async () => {
    const { dir, store, manager } = await open();
    mkdirSync(join(dir, "victim.bin.dlm"));
    for (const place of [
      { output: "victim.bin.dlm/x" },
      { directory: "victim.bin.dlm" },
      { directory: "a/B.DLM/c", output: "f.bin" },
      { output: "other.dlm" },
    ]) {
      await expect(manager.add(newDownload(URL_, place))).rejects.toThrow("names a *.dlm directory");
    }
    expect(await manager.list()).toEqual([]);
    await manager.stop();
    await store.close();
  });

  test("Remove with delete_files re-checks the stored path: a row pointing outside deletes nothing", async () => {
    const { dir, store, manager } = await open();
    const outside = await dirs.fresh();
    const victim = join(outside, "victim.txt");
    writeFileSync(victim, "precious");
    mkdirSync(`${victim}.dlm`);
    const id = (await manager.add(newDownload(URL_, { output: "f.bin", state: "paused" }))).record.id;
    // As a row changed in the database would say.
    await store.update(id, { path: victim, state: "finished" }, Date.now());
    const removal = manager.remove([id], true);
    await expect(removal).rejects.toBeInstanceOf(UsageError);
    await expect(removal).rejects.toThrow(`remove: ${victim} is not inside the download directory`);
    expect(readFileSync(victim, "utf8")).toBe("precious");
    expect(existsSync(`${victim}.dlm`)).toBe(true);
    expect((await manager.get(id))?.path).toBe(victim);
    // A path inside is deleted as before.
    writeFileSync(join(dir, "f.bin"), "mine");
    await store.update(id, { path: join(dir, "f.bin") }, Date.now());
    expect(await manager.remove([id], true)).toEqual([id]);
    expect(existsSync(join(dir, "f.bin"))).toBe(false);
    await manager.stop();
    await store.close();
  });
});
