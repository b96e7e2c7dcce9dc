import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import type { Manager } from "../manager/manager.ts";
import { startServiceListener } from "./http/service-listener.ts";
import { downloadRoutes } from "./rpc/download-service.ts";
import { errorInterceptor } from "./rpc/error-interceptor.ts";
import { startRpcListener } from "./rpc/rpc-listener.ts";
import type { ListenAddress, RunningListener } from "./shared/listener.ts";
import { SERVE_TOKEN_HINT } from "./shared/request-guard.ts";

/** The two listeners of `dlm serve`. */
export interface ServePlane {
  /** Base URL of the HTTP/1.1 listener (Connect JSON, gRPC-Web, the dashboard at `/`). */
  readonly http: string;
  /** Base URL of the HTTP/2 cleartext listener (gRPC, Connect, gRPC-Web). */
  readonly rpc: string;
  readonly token: string;
  /** Ends open streams with UNAVAILABLE and closes both listeners. */
  stop(): Promise<void>;
}

/** Largest request body, bytes: an Add with many headers fits easily. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Serves `dlm.v1.DownloadService` on the same two listeners as `dlm get --listen`: HTTP (Elysia) on PORT and
 * h2c (node:http2) on PORT+1 (both free ports with 0), with the same RequestGuard.
 */
export async function startServePlane(
  manager: Manager,
  listen: ListenAddress,
  log: Logger,
): Promise<ServePlane> {
  const token = randomBytes(32).toString("base64url");
  const shutdown = new AbortController();
  const routes = downloadRoutes(manager);
  const rpcOptions = {
    shutdownSignal: shutdown.signal,
    readMaxBytes: MAX_BODY_BYTES,
    acceptCompression: [],
    jsonOptions: { alwaysEmitImplicit: true },
    interceptors: [errorInterceptor(log)],
  };
  const http = startServiceListener({
    token,
    host: listen.host,
    port: listen.port,
    maxBodyBytes: MAX_BODY_BYTES,
    idleTimeoutSeconds: 30,
    routes,
    rpcOptions,
    dashboard: "manager",
    log,
  });
  let rpc: RunningListener;
  try {
    rpc = await startRpcListener({
      token,
      host: listen.host,
      port: listen.port === 0 ? 0 : listen.port + 1,
      maxBodyBytes: MAX_BODY_BYTES,
      routes,
      rpcOptions,
      tokenHint: SERVE_TOKEN_HINT,
      log,
    });
  } catch (error) {
    await http.stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    http: http.url,
    rpc: rpc.url,
    token,
    stop() {
      stopping ??= (async () => {
        shutdown.abort(new ConnectError("dlm serve is stopping", Code.Unavailable));
        await Promise.all([http.stop(), rpc.stop()]);
      })();
      return stopping;
    },
  };
}
