import { randomBytes } from "node:crypto";
import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import { UsageError } from "../errors.ts";
import { isTerminalState } from "../progress/snapshot.ts";
import { startHttpListener } from "./http/control-api.ts";
import { errorInterceptor } from "./rpc/error-interceptor.ts";
import { stoppedMessage } from "./rpc/progress-message.ts";
import { progressRoutes, WatchTracker } from "./rpc/progress-service.ts";
import { startRpcListener } from "./rpc/rpc-listener.ts";
import { CONTROL_FILE, type ControlFile } from "./shared/control-file.ts";
import type { ControlTarget } from "./shared/control-target.ts";
import type { ListenAddress, RunningListener } from "./shared/listener.ts";

export type { ListenAddress };
export { CONTROL_FILE, type ControlFile };

/** Tuning of a control plane; the defaults suit the CLI. */
export interface ControlPlaneOptions {
  readonly listen: ListenAddress;
  /** Logger of the HTTP listener and of the plane itself. */
  readonly log: Logger;
  /** Logger of the RPC listener (default: `log`). */
  readonly rpcLog?: Logger;
  /** Largest request body, bytes (default 16 KiB: no call needs more). */
  readonly maxBodyBytes?: number;
  /** Idle timeout of REST connections, seconds (default 30; progress streams are exempt). */
  readonly idleTimeoutSeconds?: number;
  /** Bearer token; default 32 random bytes, base64url. */
  readonly token?: string;
  /** The process id recorded in control.json (default this process). */
  readonly pid?: number;
}

/** A running control plane of one download. */
export interface ControlPlane extends ControlFile {
  /** Watch streams currently open (both listeners). */
  watchers(): number;
  /** Writes `sidecar/control.json` (mode 0600, atomically); a vanished sidecar is ignored. */
  writeControlFile(sidecar: string): Promise<void>;
  /**
   * Lets streams of an ended download deliver their last message, ends the others with UNAVAILABLE, closes
   * both listeners and removes control.json. Idempotent.
   */
  stop(): Promise<void>;
}

/** Time the streams of an ended download get to deliver their final message, ms. */
const DRAIN_MS = 2000;
/** Time the other streams get to deliver the UNAVAILABLE error before the listeners close, ms. */
const ABORT_DRAIN_MS = 500;

/**
 * Starts the HTTP and RPC listeners for `target`. The HTTP one is Elysia (REST control API plus Connect and
 * gRPC-Web for browsers over HTTP/1.1); the RPC one is node:http2 cleartext for gRPC clients. A taken port
 * is a UsageError naming --listen.
 */
export async function startControlPlane(
  target: ControlTarget,
  options: ControlPlaneOptions,
): Promise<ControlPlane> {
  const { listen, log } = options;
  const token = options.token ?? randomBytes(32).toString("base64url");
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  const tracker = new WatchTracker();
  const shutdown = new AbortController();
  const routes = progressRoutes(target, tracker);
  const rpcOptions = {
    shutdownSignal: shutdown.signal,
    readMaxBytes: maxBodyBytes,
    // No per-message gzip/br: Connect clients ask for it, and a fresh compressor per 1-3 KiB message cost
    // more CPU than everything else a watcher needs (measured with 200 watchers).
    acceptCompression: [],
    // Zero values stay in JSON (`"bytesPerSecond": 0`), which reads better in curl and dashboards.
    jsonOptions: { alwaysEmitImplicit: true },
    interceptors: [errorInterceptor(log)],
  };
  const http = bind(listen, () =>
    startHttpListener({
      target,
      token,
      host: listen.host,
      port: listen.port,
      maxBodyBytes,
      idleTimeoutSeconds: options.idleTimeoutSeconds ?? 30,
      rpcRoutes: routes,
      rpcOptions,
      log,
    }),
  );
  let rpc: RunningListener;
  try {
    const port = listen.port === 0 ? 0 : listen.port + 1;
    rpc = await bindAsync({ host: listen.host, port }, () =>
      startRpcListener({
        token,
        host: listen.host,
        port,
        maxBodyBytes,
        routes,
        rpcOptions,
        log: options.rpcLog ?? log,
      }),
    );
  } catch (error) {
    await http.stop();
    throw error;
  }
  let controlPath: string | undefined;
  let writing: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  const file: ControlFile = { http: http.url, rpc: rpc.url, token, pid: options.pid ?? process.pid };
  log.info("control plane listening: http {http}, rpc {rpc}", { http: http.url, rpc: rpc.url });
  return {
    ...file,
    watchers: () => tracker.active,
    writeControlFile(sidecar) {
      controlPath = join(sidecar, CONTROL_FILE);
      const path = controlPath;
      writing = writing.then(() => writeSecret(path, `${JSON.stringify(file)}\n`, log));
      return writing;
    },
    stop() {
      stopping ??= (async () => {
        if (isTerminalState(target.state)) await tracker.drained(DRAIN_MS);
        shutdown.abort(new ConnectError(stoppedMessage(target.snapshot().download), Code.Unavailable));
        await tracker.drained(ABORT_DRAIN_MS);
        await Promise.all([http.stop(), rpc.stop()]);
        await writing;
        if (controlPath !== undefined) await rm(controlPath, { force: true });
      })();
      return stopping;
    },
  };
}

/** Writes `text` to `path` readable by the owner only: temp file, mode 0600, rename. */
async function writeSecret(path: string, text: string, log: Logger): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    // "wx": created exclusively, never written through a link; a leftover (pid reused after a crash) goes first.
    await rm(temp, { force: true });
    await writeFile(temp, text, { mode: 0o600, flag: "wx" });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    // The download may end (and remove its sidecar) before the file is written: nothing left to describe.
    log.debug("control.json not written: {error}", { error });
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

function bind<T>(address: ListenAddress, start: () => T): T {
  try {
    return start();
  } catch (error) {
    throw listenError(address, error);
  }
}

async function bindAsync<T>(address: ListenAddress, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    throw listenError(address, error);
  }
}

function listenError(address: ListenAddress, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  const where = `${address.host}:${address.port}`;
  if (code === "EADDRINUSE") {
    return new UsageError(`--listen: ${where} is already in use`, {
      flag: "--listen",
      input: where,
      cause: error,
    });
  }
  if (code === "EADDRNOTAVAIL" || code === "EACCES") {
    return new UsageError(`--listen: cannot listen on ${where} (${String(code)})`, {
      flag: "--listen",
      input: where,
      cause: error,
    });
  }
  return error;
}
