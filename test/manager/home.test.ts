// The daemon's home and its database are private: dlm.db (credential headers) and its -wal/-shm are 0600, a
// home others can enter is tightened to 0700, and one that is a link or another user's is refused.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StateFileError } from "../../src/errors.ts";
import { EXIT } from "../../src/exit-codes.ts";
import { secureHome } from "../../src/interfaces/cli/serve-home.ts";
import { SqliteStore } from "../../src/manager/sql-store.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { startServe, stopServe } from "../serve/serve-fixture.ts";

const dirs = tempDirs("dlm-home-");
afterAll(() => dirs.removeAll());

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

/** uid of `nobody` on Debian. */
const NOBODY = 65534;
const notRoot = process.getuid?.() !== 0 ? "needs root to chown a home to another user" : undefined;

describe("dlm.db", () => {
  test("is created 0600 with its -wal and -shm, whatever the umask", async () => {
    const dir = await dirs.fresh();
    const path = join(dir, "dlm.db");
    const before = process.umask(0o022);
    try {
      const store = await SqliteStore.open(path);
      await store.add(newDownload("http://127.0.0.1:9/a"), Date.now());
      for (const file of [path, `${path}-wal`, `${path}-shm`])
        expect(`${file} ${mode(file)}`).toBe(`${file} 600`);
      await store.close();
    } finally {
      process.umask(before);
    }
  });

  test("left 0644 by an older dlm, it is tightened to 0600 when opened", async () => {
    const dir = await dirs.fresh();
    const path = join(dir, "dlm.db");
    const first = await SqliteStore.open(path);
    await first.close();
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      writeFileSync(file, "", { flag: "a" });
      chmodSync(file, 0o644);
    }
    const again = await SqliteStore.open(path);
    for (const file of [path, `${path}-wal`, `${path}-shm`])
      expect(`${file} ${mode(file)}`).toBe(`${file} 600`);
    await again.close();
  });
});

describe("the home", () => {
  test("a missing one is created 0700", async () => {
    const home = join(await dirs.fresh(), "a", "home");
    await secureHome(home);
    expect(mode(home)).toBe("700");
  });

  test("an existing one others can enter (0755) is tightened to 0700", async () => {
    const home = join(await dirs.fresh(), "home");
    mkdirSync(home, { mode: 0o755 });
    chmodSync(home, 0o755);
    await secureHome(home);
    expect(mode(home)).toBe("700");
  });

  test("a symbolic link is refused, and left as it is", async () => {
    const base = await dirs.fresh();
    mkdirSync(join(base, "real"), { mode: 0o755 });
    chmodSync(join(base, "real"), 0o755);
    symlinkSync(join(base, "real"), join(base, "link"));
    const secured = secureHome(join(base, "link"));
    await expect(secured).rejects.toBeInstanceOf(StateFileError);
    await expect(secured).rejects.toThrow(
      `${join(base, "link")}: not trusted as the dlm home: it is a symbolic link`,
    );
    expect(mode(join(base, "real"))).toBe("755");
  });

  test.skipIf(notRoot !== undefined)("one owned by another user is refused", async () => {
    const home = join(await dirs.fresh(), "home");
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    await expect(secureHome(home)).rejects.toThrow(`owned by uid ${NOBODY}`);
  });

  test("dlm serve tightens a 0755 home and keeps dlm.db 0600; a linked home exits STATE_FILE", async () => {
    const base = await dirs.fresh();
    const home = join(base, "home");
    mkdirSync(home, { mode: 0o755 });
    chmodSync(home, 0o755);
    const serve = await startServe(home, base);
    try {
      expect(mode(home)).toBe("700");
      for (const file of ["dlm.db", "dlm.db-wal", "dlm.db-shm", "serve.json"]) {
        expect(`${file} ${mode(join(home, file))}`).toBe(`${file} 600`);
      }
    } finally {
      expect(await stopServe(serve)).toBe(EXIT.OK);
    }
    symlinkSync(home, join(base, "link"));
    const run = await runDlm(["serve"], { cwd: base, env: { DLM_HOME: join(base, "link") } });
    expect(run.exitCode).toBe(EXIT.STATE_FILE);
    expect(run.stderr.trim()).toBe(
      `dlm: ${join(base, "link")}: not trusted as the dlm home: it is a symbolic link; fix it, or set DLM_HOME`,
    );
  });
});
