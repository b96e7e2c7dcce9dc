import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import { Elysia } from "elysia";
import type { Command } from "../../control/transitions.ts";
import type { ControlTarget } from "../shared/control-target.ts";
import { type RunningListener, urlHost } from "../shared/listener.ts";
import { NOT_LISTENING, RequestGuard, rejectionResponse } from "../shared/request-guard.ts";
import { connectRoutes } from "./connect-routes.ts";
import { DASHBOARD_FILES, dashboardResponse, isDashboardFile } from "./dashboard/serve-dashboard.ts";
import { commandSchema, errorSchema, statusBody, statusSchema } from "./status-body.ts";

/** How to run the HTTP listener. */
export interface HttpListenerOptions {
  readonly target: ControlTarget;
  readonly token: string;
  /** Address to bind (`127.0.0.1` unless the user chose otherwise). */
  readonly host: string;
  /** Port to bind; 0 picks a free one. A taken port is an error (no `reusePort` sharing). */
  readonly port: number;
  /** Largest request body accepted, bytes (413 above). */
  readonly maxBodyBytes: number;
  /** Seconds a connection may stay silent (REST); progress streams are exempt. */
  readonly idleTimeoutSeconds: number;
  /** Connect services served next to the REST routes, for Connect and gRPC-Web clients over HTTP/1.1. */
  readonly rpcRoutes: (router: ConnectRouter) => void;
  /** Router options (shutdown signal, message size limit...). */
  readonly rpcOptions: Partial<ConnectRouterOptions>;
  readonly log: Logger;
}

type ErrorBody = typeof errorSchema.static;

/** How long open connections get to finish on their own at stop before they are closed, ms. */
const CLOSE_GRACE_MS = 1000;

function json(status: number, body: ErrorBody): Response {
  return Response.json(body, { status });
}

/**
 * Builds the Elysia control API: `GET /status`, `POST /pause|/resume|/cancel` (409 with `{code, message}`
 * for a command the state forbids), the Connect routes and the dashboard (`GET /`, `/dashboard.js`,
 * `/dashboard.css`, `/favicon.svg`: the only routes served without the token); every request passes the
 * RequestGuard first.
 * `guard()` is read per request, so it can be created once the port is known.
 */
export function buildControlApi(options: HttpListenerOptions, guard: () => RequestGuard | undefined) {
  const { target, log } = options;
  const runCommand = (command: Command) => {
    const before = target.state;
    const transition = target.command(command, "http");
    if (!transition.ok) {
      return json(409, { code: "failed_precondition", message: `cannot ${command}: ${transition.reason}` });
    }
    return { state: transition.next, changed: transition.next !== before };
  };
  const commandRoute = { parse: "none", response: { 200: commandSchema, 409: errorSchema } } as const;
  const app = new Elysia({
    serve: {
      hostname: options.host,
      idleTimeout: options.idleTimeoutSeconds,
      // Bun's own limit is a backstop for chunked bodies; declared lengths get a JSON 413 from the guard.
      maxRequestBodySize: options.maxBodyBytes * 4,
      reusePort: false,
    },
  })
    .onRequest(({ request }) => {
      const h = request.headers;
      const current = guard();
      const path = new URL(request.url).pathname;
      const rejection =
        current === undefined
          ? NOT_LISTENING
          : current.check(
              {
                host: h.get("host") ?? undefined,
                origin: h.get("origin") ?? undefined,
                authorization: h.get("authorization") ?? undefined,
                contentLength: h.get("content-length") ?? undefined,
              },
              !isDashboardFile(request.method, path),
            );
      if (rejection === undefined) return;
      // The path only: a query string could carry anything, and nothing here should echo secrets.
      log.info("refused {method} {path}: {reason}", {
        method: request.method,
        path,
        reason: rejection.message,
      });
      return rejectionResponse(rejection, h.get("content-type") ?? undefined);
    })
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") {
        const path = new URL(request.url).pathname;
        return json(404, { code: "not_found", message: `no route for ${request.method} ${path}` });
      }
      if (code === "VALIDATION" || code === "PARSE") {
        return json(400, { code: "invalid_argument", message: "malformed request" });
      }
      log.error("control API error: {error}", { error });
      return json(500, { code: "internal", message: "internal error (see the dlm process log)" });
    })
    .get("/status", () => statusBody(target.snapshot()), { response: { 200: statusSchema } })
    .post("/pause", () => runCommand("pause"), commandRoute)
    .post("/resume", () => runCommand("resume"), commandRoute)
    .post("/cancel", () => runCommand("cancel"), commandRoute);
  for (const path of Object.keys(DASHBOARD_FILES)) app.get(path, () => dashboardResponse(path));
  for (const route of connectRoutes(options.rpcRoutes, options.rpcOptions))
    app.post(route.path, route.handle, { parse: "none" });
  return app;
}

/** Starts the HTTP listener (REST + Connect/gRPC-Web over HTTP/1.1). Throws if the port is taken. */
export function startHttpListener(options: HttpListenerOptions): RunningListener {
  let guard: RequestGuard | undefined;
  const app = buildControlApi(options, () => guard);
  app.listen({ hostname: options.host, port: options.port });
  const port = app.server?.port;
  if (port === undefined) throw new Error(`control API: could not listen on ${options.host}:${options.port}`);
  guard = new RequestGuard(options.token, { host: options.host, port }, options.maxBodyBytes);
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    stop: async () => {
      const server = app.server;
      if (server === null) return;
      // Graceful first: a stream whose handler just returned may still have its last messages (the final
      // state, the end-of-stream envelope) in Bun's send buffer, and a forced close drops them (seen with
      // every HTTP/1.1 Connect watcher of a `dlm get` that finished). Then force whatever still lingers.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.stop(false),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      await app.stop(true);
    },
  };
}
