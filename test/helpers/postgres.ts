import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";

/** Where Debian's `postgresql` puts a version's server binaries (the newest version found), if any. */
export function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** Why PostgreSQL tests skip here, or undefined when they can run. */
export function postgresMissing(): string | undefined {
  return postgresBin() === undefined
    ? "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
    : undefined;
}

/** A throwaway PostgreSQL cluster on 127.0.0.1. */
export interface Postgres {
  readonly port: number;
  /** The server's log file (statements appear there when `log_statement` is set). */
  readonly logFile: string;
  /** A connection URL for `database` (created by `createDatabase`). */
  url(database: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown, by PID) and deletes its directory. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The server refuses to run as root: as root, commands run as the `postgres` user. */
function asServerUser(argv: string[]): string[] {
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
}

async function run(argv: string[], what: string): Promise<void> {
  const child = Bun.spawn(asServerUser(argv), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  if (code !== 0) throw new Error(`${what} exited ${code}: ${err.trim() || out.trim()}`);
}

/**
 * Creates a cluster in a temp directory (owned by `postgres` when running as root), starts it on a free
 * loopback port with durability off (tests need speed, not crash safety of the test database) and waits
 * (pg_ctl -w, at most 30 s) until it accepts connections.
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error(postgresMissing());
  const dir = await mkdtemp(join(tmpdir(), "dlm-pg-"));
  if (process.getuid?.() === 0) {
    const id = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
    const gid = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
    await chown(dir, Number(id), Number(gid));
  }
  const data = join(dir, "data");
  await run(
    [
      join(bin, "initdb"),
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ],
    "initdb",
  );
  const port = await freePort();
  const options = [
    "-c listen_addresses=127.0.0.1",
    `-c port=${port}`,
    `-c unix_socket_directories=${dir}`,
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=60",
  ].join(" ");
  await run(
    [
      join(bin, "pg_ctl"),
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-o",
      options,
      "-w",
      "-t",
      "30",
      "start",
    ],
    "pg_ctl start",
  );
  const pid = Number((await readFile(join(data, "postmaster.pid"), "utf8")).split("\n")[0]);
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped: Promise<void> | undefined;
  return {
    port,
    logFile: join(dir, "server.log"),
    url,
    async createDatabase(name) {
      const admin = new SQL({ url: url("postgres"), max: 1 });
      try {
        await admin.unsafe(`CREATE DATABASE "${name.replaceAll('"', "")}"`);
      } finally {
        await admin.close();
      }
      return url(name);
    },
    stop() {
      stopped ??= (async () => {
        try {
          // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, the server exits.
          process.kill(pid, "SIGINT");
        } catch {
          // Already gone.
        }
        const deadline = performance.now() + 10_000;
        while (existsSync(join(data, "postmaster.pid")) && performance.now() < deadline) await Bun.sleep(50);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
