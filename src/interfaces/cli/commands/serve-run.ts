import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import packageJson from "../../../../package.json" with { type: "json" };
import { DEFAULT_RETRY_OPTIONS } from "../../../engine/retry-policy.ts";
import { NetworkError, UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import { logger } from "../../../log.ts";
import type { DownloadRecord } from "../../../manager/download-record.ts";
import type { Store } from "../../../manager/store.ts";
import type { Aria2Listener } from "../../aria2/aria2-listener.ts";
import { dashboardUrl } from "../../shared/listener.ts";
import { aria2Listen } from "../aria2-flags.ts";
import type { CliContext } from "../cli-context.ts";
import { listenAddress } from "../listen-address.ts";
import { reportError } from "../report.ts";
import {
  DATABASE_FILE,
  homeNodeName,
  processAlive,
  readServeFile,
  removeServeFile,
  secureHome,
  serveHome,
  writeServeFile,
} from "../serve-home.ts";
import type { ServeFlags } from "./serve.ts";

/** A store URL fit for messages and logs: the password left out. */
function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== "") parsed.password = "***";
  return parsed.href;
}

/** The queue: the SQLite file in the home, or the PostgreSQL database `--store` names. */
async function openStore(home: string, url: string | undefined): Promise<Store> {
  if (url === undefined) {
    const { SqliteStore } = await import("../../../manager/sql-store.ts");
    return SqliteStore.open(join(home, DATABASE_FILE));
  }
  const { PostgresStore } = await import("../../../manager/sql-store.ts");
  try {
    return await PostgresStore.open(url);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new NetworkError(`--store: cannot open the queue in ${redacted(url)}: ${why}`, {
      reason: "refused",
      flag: "--store",
      cause: error,
    });
  }
}

/**
 * The `--on-complete` hook: runs `program` directly (no shell, so nothing in a file name is interpreted)
 * with the download described in its environment. Its exit status is only logged.
 */
function completionHook(
  program: string,
  env: Readonly<Record<string, string | undefined>>,
): (record: DownloadRecord) => void {
  const log = logger("control");
  return (record) => {
    try {
      const child = Bun.spawn([program], {
        env: {
          ...env,
          DLM_ID: String(record.id),
          DLM_FILE: record.path ?? "",
          DLM_SHA256: record.sha256 ?? "",
          DLM_STATE: record.state,
        },
        stdin: "ignore",
        stdout: "inherit",
        stderr: "inherit",
      });
      void child.exited.then((code) => {
        if (code !== 0)
          log.warn("--on-complete {program} exited {code}", { program, code, download: record.id });
      });
    } catch (error) {
      log.warn("--on-complete {program} could not start: {error}", { program, error });
    }
  };
}

/** Turns a taken or impossible address into a UsageError naming --listen. */
function listenError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE" || code === "EADDRNOTAVAIL" || code === "EACCES") {
    return new UsageError(`--listen: cannot listen there (${String(code)})`, {
      flag: "--listen",
      cause: error,
    });
  }
  return error;
}

/** Turns a taken aria2 port into a UsageError naming --aria2-rpc. */
function aria2ListenError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE" || code === "EADDRNOTAVAIL" || code === "EACCES") {
    return new UsageError(`--aria2-rpc: cannot listen there (${String(code)})`, {
      flag: "--aria2-rpc",
      cause: error,
    });
  }
  return error;
}

/** The body of `serveCommand` (serve.ts): loaded when the command runs, so `dlm get` never loads it (issue 24). */
export async function runServe(this: CliContext, flags: ServeFlags): Promise<void> {
  const ctx = this.dlm;
  const json = flags.json ?? false;
  try {
    const listen = listenAddress(flags.listen, flags.listenAny ?? false) ?? { host: "127.0.0.1", port: 0 };
    const aria2At = aria2Listen(flags, flags.listenAny ?? false);
    const dir = resolve(ctx.cwd, flags.dir ?? ".");
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new UsageError(`--dir: ${dir} is not a directory`, { flag: "--dir", input: flags.dir ?? "." });
    }
    const home = serveHome(ctx);
    await secureHome(home);
    const other = await readServeFile(home);
    if (other !== undefined && other.pid !== process.pid && processAlive(other.pid)) {
      throw new UsageError(`dlm serve already runs for ${home} (pid ${other.pid}, ${other.rpc})`, {
        hint: "stop it first, or set DLM_HOME to run another",
      });
    }
    const node = flags.node ?? (await homeNodeName(home));
    // Loaded here: the servers and the database cost start-up time the other commands should not pay.
    const { Manager } = await import("../../../manager/manager.ts");
    const { startServePlane } = await import("../../serve-plane.ts");
    const store = await openStore(home, flags.store);
    const manager = await Manager.start({
      store,
      ctx,
      dir,
      node,
      ...(flags.leaseTimeout === undefined ? {} : { leaseMs: flags.leaseTimeout * 1000 }),
      maxActive: flags.maxActive ?? 3,
      ...(flags.maxConnections === undefined ? {} : { connectionBudget: flags.maxConnections }),
      globalLimit: flags.limit ?? 0,
      ...(flags.retries === undefined
        ? {}
        : { engineRetry: { ...DEFAULT_RETRY_OPTIONS, maxAttempts: flags.retries + 1 } }),
      ...(flags.onComplete === undefined ? {} : { onEnded: completionHook(flags.onComplete, ctx.env) }),
      refreshCommand: flags.refreshCmd,
      log: logger("control"),
    });
    let plane: Awaited<ReturnType<typeof startServePlane>>;
    try {
      plane = await startServePlane(manager, listen, logger("rpc"));
    } catch (error) {
      await manager.stop();
      await store.close();
      throw listenError(error);
    }
    // aria2's JSON-RPC (--aria2-rpc): the same manager behind another door; shutdown ends the wait below.
    const { promise: aria2Shutdown, resolve: shutdownAsked } = Promise.withResolvers<void>();
    let aria2: Aria2Listener | undefined;
    const aria2Secret =
      flags.rpcSecret ?? Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
    if (aria2At !== undefined) {
      try {
        const { startAria2Listener } = await import("../../aria2/aria2-listener.ts");
        aria2 = startAria2Listener({
          ...aria2At,
          secret: aria2Secret,
          allowOrigins: flags.rpcAllowOrigin ?? [],
          deps: {
            manager,
            baseDir: dir,
            allowShutdown: flags.rpcAllowShutdown ?? false,
            onShutdown: shutdownAsked,
            dlmVersion: packageJson.version,
            log: logger("rpc"),
          },
        });
      } catch (error) {
        await plane.stop();
        await manager.stop();
        await store.close();
        throw aria2ListenError(error);
      }
    }
    // Listening for SIGINT/SIGTERM before anything says the daemon is up: a client that stops it right after
    // the serve line must get the orderly stop (downloads paused, serve.json removed, exit 0).
    const stopRequested = new Promise<void>((done) => {
      const detach = this.onSignal(() => {
        detach();
        done();
      });
      void aria2Shutdown.then(() => {
        detach();
        done();
      });
    });
    await writeServeFile(home, {
      http: plane.http,
      rpc: plane.rpc,
      token: plane.token,
      pid: process.pid,
      dir,
    });
    // The dashboard link carries the token in its fragment: printed for the user, never logged.
    const dashboard = dashboardUrl(plane.http, plane.token);
    const queue = flags.store === undefined ? "" : `, queue ${redacted(flags.store)} as node ${node}`;
    ctx.stderr.write(
      `dlm: serving downloads into ${dir}; rpc ${plane.rpc}, http ${plane.http} (token in ${join(home, "serve.json")})${queue}\n` +
        `dlm: dashboard ${dashboard}\n`,
    );
    if (aria2 !== undefined) {
      // A generated secret is printed once (the user types it into AriaNg); a given one is not echoed.
      const shown = flags.rpcSecret === undefined ? `, secret ${aria2Secret}` : "";
      ctx.stderr.write(`dlm: aria2 JSON-RPC ${aria2.rpcUrl}${shown}\n`);
    }
    if (json) {
      const extra = aria2 === undefined ? {} : { aria2: aria2.rpcUrl };
      ctx.stdout.write(
        `${JSON.stringify({ type: "serve", http: plane.http, rpc: plane.rpc, dashboard, dir, home, node, ...extra })}\n`,
      );
    }
    await stopRequested;
    ctx.stderr.write("dlm: stopping; running downloads pause and continue at the next dlm serve\n");
    await aria2?.stop();
    await plane.stop();
    await manager.stop();
    await store.close();
    await removeServeFile(home, process.pid);
    this.exitCode = EXIT.OK;
  } catch (error) {
    this.exitCode = reportError(this, error, json);
  }
}
