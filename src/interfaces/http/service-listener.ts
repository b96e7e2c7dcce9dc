import type { ConnectListenerOptions, RunningListener } from "../shared/listener.ts";
import { SERVE_TOKEN_HINT } from "../shared/request-guard.ts";
import { connectRoutes } from "./connect-routes.ts";
import type { DashboardKind } from "./dashboard/build-dashboard.ts";
import { DASHBOARD_FILES, dashboardResponse, isDashboardFile } from "./dashboard/serve-dashboard.ts";
import { startGuardedApp } from "./guarded-app.ts";

/** How to run an HTTP listener that serves Connect services only. */
export interface ServiceListenerOptions extends ConnectListenerOptions {
  /** Seconds a connection may stay silent; streams are exempt. */
  readonly idleTimeoutSeconds: number;
  /** A dashboard to serve at `GET /` (its static files are the only requests served without the token). */
  readonly dashboard?: DashboardKind;
}

/**
 * Starts a guarded listener (guarded-app.ts: the same checks as `dlm get --listen`) serving Connect and
 * gRPC-Web over HTTP/1.1 (curl with Connect JSON, browsers) and, when asked, a dashboard.
 */
export function startServiceListener(options: ServiceListenerOptions): RunningListener {
  const kind = options.dashboard;
  const isPublic = (method: string, path: string) => kind !== undefined && isDashboardFile(method, path);
  return startGuardedApp(
    { ...options, isPublic, tokenHint: options.tokenHint ?? SERVE_TOKEN_HINT },
    (app) => {
      if (kind !== undefined) {
        for (const path of Object.keys(DASHBOARD_FILES)) app.get(path, () => dashboardResponse(path, kind));
      }
      for (const route of connectRoutes(options.routes, options.rpcOptions))
        app.post(route.path, route.handle, { parse: "none" });
    },
  );
}
