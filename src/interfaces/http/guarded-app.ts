import type { Logger } from "@logtape/logtape";
import { Elysia } from "elysia";
import type { RunningListener } from "../shared/listener.ts";
import { closeWithin, ListenerGuard } from "../shared/listener-guard.ts";
import { rejectionResponse } from "../shared/request-guard.ts";

/** How to run a guarded HTTP/1.1 listener (the control API of `dlm get --listen`, the service of `dlm serve`). */
export interface GuardedAppOptions {
  readonly token: string;
  /** Address to bind (`127.0.0.1` unless the user chose otherwise). */
  readonly host: string;
  /** Port to bind; 0 picks a free one. A taken port is an error (no `reusePort` sharing). */
  readonly port: number;
  /** Largest request body accepted, bytes (413 above). */
  readonly maxBodyBytes: number;
  /** Seconds a connection may stay silent; streams are exempt (see connect-routes.ts). */
  readonly idleTimeoutSeconds: number;
  /** Requests served without the token: only files that carry no data (the dashboard's page, script, style). */
  readonly isPublic: (method: string, path: string) => boolean;
  /** Where a client finds the token, named in the 401 message (e.g. "see FILE.dlm/control.json"). */
  readonly tokenHint: string;
  readonly log: Logger;
}

/** How long open connections get to finish on their own at stop before they are closed, ms. */
const CLOSE_GRACE_MS = 1000;

function json(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status });
}

/**
 * Starts an Elysia listener whose every request first passes the RequestGuard (Host names this listener,
 * a browser's Origin is this listener, bearer token compared in constant time unless `isPublic`, declared
 * body within the cap), with one error policy (404 for an unknown route, 400 for a malformed body, 500 with
 * nothing internal for the rest, logged), then the routes `addRoutes` registers. Throws if the port is taken.
 */
export function startGuardedApp(
  options: GuardedAppOptions,
  addRoutes: (app: Elysia) => void,
): RunningListener {
  const { log } = options;
  const guard = new ListenerGuard(options);
  // Hooks and routes register in place (Elysia's chaining only refines types), so `app` keeps the base type.
  const app: Elysia = new Elysia({
    serve: {
      hostname: options.host,
      idleTimeout: options.idleTimeoutSeconds,
      // Bun's own limit is a backstop for chunked bodies; declared lengths get a JSON 413 from the guard.
      maxRequestBodySize: options.maxBodyBytes * 4,
      reusePort: false,
    },
  });
  app.onRequest(({ request }) => {
    const h = request.headers;
    const path = new URL(request.url).pathname;
    // The path only: a query string could carry anything, and nothing here should echo secrets.
    const rejection = guard.check(
      { method: request.method, path },
      {
        host: h.get("host") ?? undefined,
        origin: h.get("origin") ?? undefined,
        authorization: h.get("authorization") ?? undefined,
        contentLength: h.get("content-length") ?? undefined,
      },
      !options.isPublic(request.method, path),
    );
    if (rejection === undefined) return;
    return rejectionResponse(rejection, h.get("content-type") ?? undefined);
  });
  app.onError(({ code, error, request }) => {
    if (code === "NOT_FOUND") {
      const path = new URL(request.url).pathname;
      return json(404, "not_found", `no route for ${request.method} ${path}`);
    }
    if (code === "VALIDATION" || code === "PARSE") return json(400, "invalid_argument", "malformed request");
    log.error("HTTP listener error: {error}", { error });
    return json(500, "internal", "internal error (see the dlm process log)");
  });
  addRoutes(app);
  app.listen({ hostname: options.host, port: options.port });
  const port = app.server?.port;
  if (port === undefined) throw new Error(`could not listen on ${options.host}:${options.port}`);
  return {
    ...guard.listening(port),
    async stop() {
      const server = app.server;
      if (server === null) return;
      // Graceful first: a stream whose handler just returned may still have its last messages (the final
      // state, the end-of-stream envelope) in Bun's send buffer, and a forced close drops them (seen with
      // every HTTP/1.1 Connect watcher of a `dlm get` that finished). Then force whatever still lingers.
      await closeWithin(server.stop(false), CLOSE_GRACE_MS);
      await app.stop(true);
    },
  };
}
