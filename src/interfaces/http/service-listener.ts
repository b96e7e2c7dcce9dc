import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import { Elysia } from "elysia";
import { type RunningListener, urlHost } from "../shared/listener.ts";
import { NOT_LISTENING, RequestGuard, rejectionResponse } from "../shared/request-guard.ts";
import { connectRoutes } from "./connect-routes.ts";
import type { DashboardKind } from "./dashboard/build-dashboard.ts";
import { DASHBOARD_FILES, dashboardResponse, isDashboardFile } from "./dashboard/serve-dashboard.ts";

/** How to run an HTTP listener that serves Connect services only. */
export interface ServiceListenerOptions {
  readonly token: string;
  readonly host: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  readonly maxBodyBytes: number;
  /** Seconds a connection may stay silent; streams are exempt. */
  readonly idleTimeoutSeconds: number;
  readonly routes: (router: ConnectRouter) => void;
  readonly rpcOptions: Partial<ConnectRouterOptions>;
  /** A dashboard to serve at `GET /` (its static files are the only requests served without the token). */
  readonly dashboard?: DashboardKind;
  readonly log: Logger;
}

/** How long open connections get to finish on their own at stop, ms. */
const CLOSE_GRACE_MS = 1000;

/**
 * Starts an Elysia listener serving Connect and gRPC-Web over HTTP/1.1 (curl with Connect JSON, browsers)
 * and, when asked, a dashboard; every request checked by the same RequestGuard as `dlm get --listen`: Host,
 * Origin, bearer token (not for the dashboard's static files), body size.
 */
export function startServiceListener(options: ServiceListenerOptions): RunningListener {
  let guard: RequestGuard | undefined;
  const { log } = options;
  const app = new Elysia({
    serve: {
      hostname: options.host,
      idleTimeout: options.idleTimeoutSeconds,
      maxRequestBodySize: options.maxBodyBytes * 4,
      reusePort: false,
    },
  })
    .onRequest(({ request }) => {
      const h = request.headers;
      const path = new URL(request.url).pathname;
      const rejection =
        guard === undefined
          ? NOT_LISTENING
          : guard.check(
              {
                host: h.get("host") ?? undefined,
                origin: h.get("origin") ?? undefined,
                authorization: h.get("authorization") ?? undefined,
                contentLength: h.get("content-length") ?? undefined,
              },
              options.dashboard === undefined || !isDashboardFile(request.method, path),
            );
      if (rejection === undefined) return;
      log.info("refused {method} {path}: {reason}", {
        method: request.method,
        path,
        reason: rejection.message,
      });
      return rejectionResponse(rejection, h.get("content-type") ?? undefined);
    })
    .onError(({ code, request }) => {
      if (code === "NOT_FOUND") {
        const path = new URL(request.url).pathname;
        return Response.json(
          { code: "not_found", message: `no route for ${request.method} ${path}` },
          { status: 404 },
        );
      }
      return Response.json(
        { code: "internal", message: "internal error (see the dlm process log)" },
        { status: 500 },
      );
    });
  const kind = options.dashboard;
  if (kind !== undefined) {
    for (const path of Object.keys(DASHBOARD_FILES)) app.get(path, () => dashboardResponse(path, kind));
  }
  for (const route of connectRoutes(options.routes, options.rpcOptions))
    app.post(route.path, route.handle, { parse: "none" });
  app.listen({ hostname: options.host, port: options.port });
  const port = app.server?.port;
  if (port === undefined) throw new Error(`could not listen on ${options.host}:${options.port}`);
  guard = new RequestGuard(options.token, { host: options.host, port }, options.maxBodyBytes);
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    async stop() {
      const server = app.server;
      if (server === null) return;
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
