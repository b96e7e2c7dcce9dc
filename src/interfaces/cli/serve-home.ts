import { chmod, lstat, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import type { Context } from "../../context.ts";
import { NoServerError, StateFileError } from "../../errors.ts";
import { readJsonFields } from "./read-json-file.ts";

/** What `dlm serve` writes (mode 0600) so its clients can find and call it. */
export interface ServeFile {
  /** HTTP/1.1 listener (Connect JSON, gRPC-Web), e.g. `http://127.0.0.1:8080`. */
  readonly http: string;
  /** HTTP/2 cleartext listener (gRPC, Connect). */
  readonly rpc: string;
  readonly token: string;
  readonly pid: number;
  /** Absolute download directory. */
  readonly dir: string;
}

/** Name of the file in the home. */
export const SERVE_FILE = "serve.json";
/** Name of the database in the home. */
export const DATABASE_FILE = "dlm.db";
/** Name of the file that keeps this home's node name (several nodes can share one queue). */
export const NODE_FILE = "node";

/**
 * This home's node name: the one kept in NODE_FILE, else a new one (host name and 6 random hex digits,
 * so two nodes on one host differ) written there. A restarted node keeps its name and so takes back at
 * once the downloads it was running, instead of waiting for their leases to expire.
 */
export async function homeNodeName(home: string): Promise<string> {
  const path = join(home, NODE_FILE);
  const kept = (await readFile(path, "utf8").catch(() => "")).trim();
  if (/^[A-Za-z0-9._-]{1,63}$/.test(kept)) return kept;
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, "-")
      .slice(0, 48) || "node";
  // The global Web Crypto: node:crypto would cost every client command its load time (serve-home.ts is
  // imported by all of them).
  const suffix = [...crypto.getRandomValues(new Uint8Array(3))].map((b) => b.toString(16).padStart(2, "0"));
  const name = `${host}-${suffix.join("")}`;
  await writeFile(path, `${name}\n`, { mode: 0o600 });
  return name;
}

/**
 * The daemon's home: `$DLM_HOME`, else `$XDG_STATE_HOME/dlm`, else `~/.local/state/dlm` (the XDG Base
 * Directory default for state), relative values resolved against the context's cwd.
 */
export function serveHome(ctx: Context): string {
  const home = ctx.env["DLM_HOME"];
  if (home !== undefined && home !== "") return resolve(ctx.cwd, home);
  const state = ctx.env["XDG_STATE_HOME"];
  const base =
    state !== undefined && state !== "" ? resolve(ctx.cwd, state) : join(homedir(), ".local", "state");
  return join(base, "dlm");
}

/**
 * Makes the daemon's home private before anything is put in it (serve.json holds the token, dlm.db the
 * credential headers): created 0700 when missing; an existing one must be a real directory (not a link)
 * owned by this user, and is tightened to 0700 when group or others may enter it. Anything else is a
 * StateFileError (exit 8) naming the home and the reason, as for a sidecar (engine/sidecar-trust.ts).
 */
export async function secureHome(home: string): Promise<void> {
  const refuse = (reason: string): never => {
    throw new StateFileError(`${home}: not trusted as the dlm home: ${reason}; fix it, or set DLM_HOME`, {
      file: home,
    });
  };
  let found = await lstat(home).catch(() => undefined);
  if (found === undefined) {
    await mkdir(home, { recursive: true, mode: 0o700 });
    found = await lstat(home);
  }
  if (found.isSymbolicLink()) refuse("it is a symbolic link");
  if (!found.isDirectory()) refuse("it is not a directory");
  // The effective uid is a fact about this process, not part of the world the Context injects.
  const euid = process.geteuid?.();
  if (euid !== undefined && found.uid !== euid)
    refuse(`owned by uid ${found.uid}, not by this user (uid ${euid})`);
  if ((found.mode & 0o077) !== 0) await chmod(home, 0o700);
}

/** Writes serve.json readable by the owner only: temp file (0600), rename. */
export async function writeServeFile(home: string, file: ServeFile): Promise<void> {
  const path = join(home, SERVE_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** Removes serve.json if it is still this process's. */
export async function removeServeFile(home: string, pid: number): Promise<void> {
  const found = await readServeFile(home).catch(() => undefined);
  if (found?.pid === pid) await rm(join(home, SERVE_FILE), { force: true });
}

/** serve.json of `home`; undefined when there is none. */
export async function readServeFile(home: string): Promise<ServeFile | undefined> {
  const path = join(home, SERVE_FILE);
  const value = await readJsonFields<ServeFile>(path);
  if (value === undefined) return undefined;
  const { http, rpc, token, pid, dir } = value;
  if (
    typeof http !== "string" ||
    typeof rpc !== "string" ||
    typeof token !== "string" ||
    typeof pid !== "number" ||
    typeof dir !== "string"
  ) {
    throw new StateFileError(`${path}: expected {http, rpc, token, pid, dir}`, { file: path });
  }
  return { http, rpc, token, pid, dir };
}

/** True when a process with this id exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
}

/** The running daemon's serve.json, or NoServerError saying how to start one. */
export async function requireServer(ctx: Context): Promise<ServeFile> {
  const home = serveHome(ctx);
  const file = await readServeFile(home);
  if (file === undefined || !processAlive(file.pid)) {
    throw new NoServerError(`no dlm serve is running (home ${home}); start one with: dlm serve`, {
      file: join(home, SERVE_FILE),
    });
  }
  return file;
}
