import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildCommand } from "@stricli/core";
import packageJson from "../../../../package.json" with { type: "json" };
import { splitCommand } from "../../../engine/refresh-cmd.ts";
import { DEFAULT_RETRY_OPTIONS } from "../../../engine/retry-policy.ts";
import { NetworkError, UsageError } from "../../../errors.ts";
import { EXIT } from "../../../exit-codes.ts";
import { logger } from "../../../log.ts";
import type { DownloadRecord } from "../../../manager/download-record.ts";
import type { Store } from "../../../manager/store.ts";
import type { Aria2Listener } from "../../aria2/aria2-listener.ts";
import { dashboardUrl } from "../../shared/listener.ts";
import { type Aria2Flags, aria2Flags, aria2Listen } from "../aria2-flags.ts";
import type { CliContext } from "../cli-context.ts";
import { byteSize, integerIn, nodeName, storeUrl } from "../flag-parsers.ts";
import { type ListenFlags, listenAddress, listenFlags } from "../listen-address.ts";
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

/** Flags of `dlm serve`. */
export interface ServeFlags extends ListenFlags, Aria2Flags {
  readonly dir?: string;
  readonly maxActive?: number;
  readonly maxConnections?: number;
  readonly limit?: number;
  readonly retries?: number;
  readonly onComplete?: string;
  readonly refreshCmd?: readonly string[];
  readonly store?: string;
  readonly node?: string;
  readonly leaseTimeout?: number;
  readonly json?: boolean;
}

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

/**
 * `dlm serve`: the download manager. Opens (or creates) the queue in its home, continues every unfinished
 * download from its sidecar, serves DownloadService, writes serve.json for clients, and runs until
 * SIGINT/SIGTERM, when running downloads pause (state saved) and stay queued for the next start.
 */
export const serveCommand = buildCommand({
  async func(this: CliContext, flags: ServeFlags) {
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
  },
  parameters: {
    flags: {
      dir: {
        kind: "parsed",
        parse: String,
        brief: "Download directory; clients cannot place files outside it (default: the current directory)",
        optional: true,
        placeholder: "DIR",
      },
      ...listenFlags,
      ...aria2Flags,
      maxActive: {
        kind: "parsed",
        parse: integerIn("--max-active", 1, 100),
        brief: "Downloads running at once, 1..100 (default 3)",
        optional: true,
        placeholder: "N",
      },
      maxConnections: {
        kind: "parsed",
        parse: integerIn("--max-connections", 1, 1024),
        brief: "Connections all running downloads share, 1..1024 (default 8 per --max-active slot)",
        optional: true,
        placeholder: "N",
      },
      limit: {
        kind: "parsed",
        parse: byteSize("--limit", 1),
        brief: "Global speed limit per second shared by all downloads (512K, 20M...; default none)",
        optional: true,
        placeholder: "RATE",
      },
      retries: {
        kind: "parsed",
        parse: integerIn("--retries", 0, 1000),
        brief: `Retries per segment within one run, as dlm get (default ${DEFAULT_RETRY_OPTIONS.maxAttempts - 1}); then a retryable failure waits and the download is tried again later`,
        optional: true,
        placeholder: "N",
      },
      onComplete: {
        kind: "parsed",
        parse: String,
        brief:
          "Run PROGRAM (no shell) when a download ends, with DLM_ID, DLM_FILE, DLM_SHA256, DLM_STATE set",
        optional: true,
        placeholder: "PROGRAM",
      },
      refreshCmd: {
        kind: "parsed",
        parse: (input: string) => splitCommand(input),
        brief:
          "When a download's link expires, run CMD (no shell; DLM_URL, DLM_OUTPUT, DLM_EXPIRED_URL, DLM_STATUS set) for a fresh URL; API clients cannot set one (default: resolve the URL again)",
        optional: true,
        placeholder: "CMD",
      },
      store: {
        kind: "parsed",
        parse: storeUrl,
        brief:
          "Keep the queue in PostgreSQL (postgres://USER@HOST/DB) to share it with other dlm serve nodes (default: SQLite in the home)",
        optional: true,
        placeholder: "URL",
      },
      node: {
        kind: "parsed",
        parse: nodeName,
        brief:
          "This node's name among those sharing --store (default: kept in the home, made from the host name)",
        optional: true,
        placeholder: "NAME",
      },
      leaseTimeout: {
        kind: "parsed",
        parse: integerIn("--lease-timeout", 2, 3600),
        brief:
          "Seconds without a heartbeat after which another node takes over a download, 2..3600 (default 15)",
        optional: true,
        placeholder: "SECONDS",
      },
      json: { kind: "boolean", brief: "Machine output: a JSON line with the listeners", optional: true },
    },
  },
  docs: {
    brief: "Run the download manager: a persistent queue served as dlm.v1.DownloadService (see dlm add, ls)",
  },
});
