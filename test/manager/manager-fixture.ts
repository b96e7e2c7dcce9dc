import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Manager, type ManagerOptions } from "../../src/manager/manager.ts";
import type { ManagerEvent } from "../../src/manager/manager-events.ts";
import { SqliteStore } from "../../src/manager/sql-store.ts";
import { quietContext } from "../control/fixture.ts";

/** A manager on a fresh SQLite store, with every event it emitted. */
export interface OpenedManager {
  /** The download directory. */
  readonly dir: string;
  /** The SQLite file. */
  readonly dbPath: string;
  readonly store: SqliteStore;
  readonly manager: Manager;
  readonly events: ManagerEvent[];
}

/** Where the manager lives: `dir` (default: a fresh one) and the directory of dlm.db (default: `dir`). */
export interface ManagerPlace {
  readonly dir?: string | undefined;
  readonly dbDir?: string | undefined;
}

/**
 * Starts a Manager (in a fresh directory of `dirs` unless `place` names one) as the daemon does (SQLite store, quiet context, the "dlm manager" logger) with the
 * test's own options, subscribed to its events. The test stops the manager and closes the store.
 */
export async function openManager(
  dirs: { fresh(): Promise<string> },
  options: Omit<ManagerOptions, "store" | "ctx" | "dir" | "log">,
  place: ManagerPlace = {},
): Promise<OpenedManager> {
  const dir = place.dir ?? (await dirs.fresh());
  const dbPath = join(place.dbDir ?? dir, "dlm.db");
  const store = await SqliteStore.open(dbPath);
  const manager = await Manager.start({
    store,
    ctx: quietContext(dir),
    dir,
    ...options,
    log: getLogger(["dlm", "manager"]),
  });
  const events: ManagerEvent[] = [];
  manager.subscribe((event) => events.push(event));
  return { dir, dbPath, store, manager, events };
}
