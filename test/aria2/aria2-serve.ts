import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Origin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "../serve/serve-fixture.ts";

/** Where one aria2 test file's `dlm serve` lives: a temp dir holding its home and its download directory. */
export interface Aria2Place {
  readonly tmp: string;
  /** `tmp/home`. */
  readonly home: string;
  /** `tmp/dl`, created. */
  readonly dir: string;
}

/** Makes a fresh temp dir (named from `prefix`) with the download directory in it. */
export async function aria2Place(prefix: string): Promise<Aria2Place> {
  const tmp = await mkdtemp(join(tmpdir(), prefix));
  const dir = join(tmp, "dl");
  await Bun.write(join(dir, ".keep"), "");
  return { tmp, home: join(tmp, "home"), dir };
}

/** Starts `dlm serve --dir DIR --aria2-rpc 127.0.0.1:0 --rpc-secret SECRET` plus `more` flags at `place`. */
export function startAria2Serve(
  place: Aria2Place,
  secret: string,
  more: readonly string[] = [],
): Promise<ServeProcess> {
  return startServe(place.home, place.dir, [
    "--dir",
    place.dir,
    "--aria2-rpc",
    "127.0.0.1:0",
    "--rpc-secret",
    secret,
    ...more,
  ]);
}

/** After the file's tests: stops the daemon unless it has exited, closes the origin, removes the temp dir. */
export async function endAria2Serve(
  serve: ServeProcess | undefined,
  origin: Origin | undefined,
  place: Aria2Place | undefined,
): Promise<void> {
  if (serve !== undefined && serve.child.exitCode === null) await stopServe(serve);
  await origin?.close();
  if (place !== undefined) await rm(place.tmp, { recursive: true, force: true });
}
