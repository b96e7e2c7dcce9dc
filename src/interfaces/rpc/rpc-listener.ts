import {
  createServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { ConnectListenerOptions, RunningListener } from "../shared/listener.ts";
import { closeWithin, ListenerGuard } from "../shared/listener-guard.ts";
import { rejectionResponse } from "../shared/request-guard.ts";
import { SessionWatch } from "./session-watch.ts";

/** How to run the RPC listener. */
export interface RpcListenerOptions extends ConnectListenerOptions {
  /** A connection that has sent no request with the token by then is closed, ms (default 10 s). */
  readonly unauthenticatedTimeoutMs?: number;
  /** A connection with no open stream for this long is closed, ms (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Streams one connection may have open at once (default 1000; the client is told in SETTINGS). */
  readonly maxConcurrentStreams?: number;
}

/** How long open HTTP/2 sessions get to close on their own at stop before they are destroyed, ms. */
const CLOSE_GRACE_MS = 1000;
/** Defaults of the connection bounds (see RpcListenerOptions). */
const UNAUTHENTICATED_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 60_000;
// High enough for a script that fires a thousand calls at once on a new connection (before the SETTINGS frame
// reaches it a client may open more than the limit, and those come back REFUSED_STREAM).
const MAX_CONCURRENT_STREAMS = 1000;

/**
 * Starts the RPC listener: HTTP/2 over cleartext (h2c, prior knowledge) from `node:http2`, since Bun.serve
 * has no cleartext HTTP/2 and gRPC needs HTTP/2. connect-node's adapter serves gRPC, Connect and gRPC-Web on
 * it; every request passes the RequestGuard first (gRPC clients get a trailers-only status).
 */
export async function startRpcListener(options: RpcListenerOptions): Promise<RunningListener> {
  const adapter = connectNodeAdapter({ ...options.rpcOptions, routes: options.routes });
  const guard = new ListenerGuard(options);
  const server = createServer(
    { settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? MAX_CONCURRENT_STREAMS } },
    (req, res) => {
      const contentType = one(req.headers["content-type"]);
      const rejection = guard.check(
        { method: req.method, path: req.url },
        {
          host: one(req.headers[":authority"]) ?? one(req.headers.host),
          origin: one(req.headers.origin),
          authorization: one(req.headers.authorization),
          contentLength: one(req.headers["content-length"]),
        },
      );
      if (rejection === undefined) {
        watched.get(req.stream.session as ServerHttp2Session)?.opened(req.stream);
        adapter(req, res);
        return;
      }
      void send(rejectionResponse(rejection, contentType), req, res);
    },
  );
  const sessions = new Set<ServerHttp2Session>();
  const watched = new WeakMap<ServerHttp2Session, SessionWatch>();
  const unauthenticatedMs = options.unauthenticatedTimeoutMs ?? UNAUTHENTICATED_TIMEOUT_MS;
  const idleMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  server.on("session", (session) => {
    sessions.add(session);
    const watch = new SessionWatch(session, unauthenticatedMs, idleMs, (why) =>
      options.log.debug("closing an RPC connection: {why}", { why }),
    );
    watched.set(session, watch);
    session.once("close", () => {
      sessions.delete(session);
      watch.dispose();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    ...guard.listening(port),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      if (!(await closeWithin(closed, CLOSE_GRACE_MS))) {
        for (const session of sessions) session.destroy();
      }
    },
  };
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function send(response: Response, req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
  const body = await response.text();
  const headers = Object.fromEntries(response.headers);
  if (body === "") {
    // One HEADERS frame with END_STREAM: a gRPC "trailers-only" answer. writeHead + end() would send an
    // empty DATA frame to end the stream, and grpc-js then misses the status (it reports INTERNAL).
    res.stream.respond({ ":status": response.status, ...headers }, { endStream: true });
  } else {
    res.writeHead(response.status, headers);
    res.end(body);
  }
  // The request body (if any) is not wanted: drop it instead of letting it fill the stream's window.
  req.resume();
}
