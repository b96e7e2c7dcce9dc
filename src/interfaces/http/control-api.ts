import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import type { Elysia } from "elysia";
import type { Command } from "../../control/transitions.ts";
import type { ControlTarget } from "../shared/control-target.ts";
import type { RunningListener } from "../shared/listener.ts";
import { CONTROL_TOKEN_HINT } from "../shared/request-guard.ts";
import { connectRoutes } from "./connect-routes.ts";
import { DASHBOARD_FILES, dashboardResponse, isDashboardFile } from "./dashboard/serve-dashboard.ts";
import { startGuardedApp } from "./guarded-app.ts";
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

function json(status: number, body: ErrorBody): Response {
  return Response.json(body, { status });
}

/**
 * The routes of the control API: `GET /status`, `POST /pause|/resume|/cancel` (409 with `{code, message}`
 * for a command the state forbids), the Connect routes and the dashboard (`GET /`, `/dashboard.js`,
 * `/dashboard.css`, `/favicon.svg`: the only routes served without the token).
 */
export function addControlRoutes(app: Elysia, options: HttpListenerOptions): void {
  const { target } = options;
  const runCommand = (command: Command) => {
    const before = target.state;
    const transition = target.command(command, "http");
    if (!transition.ok) {
      return json(409, { code: "failed_precondition", message: `cannot ${command}: ${transition.reason}` });
    }
    return { state: transition.next, changed: transition.next !== before };
  };
  const commandRoute = { parse: "none", response: { 200: commandSchema, 409: errorSchema } } as const;
  app
    .get("/status", () => statusBody(target.snapshot()), { response: { 200: statusSchema } })
    .post("/pause", () => runCommand("pause"), commandRoute)
    .post("/resume", () => runCommand("resume"), commandRoute)
    .post("/cancel", () => runCommand("cancel"), commandRoute);
  for (const path of Object.keys(DASHBOARD_FILES)) app.get(path, () => dashboardResponse(path));
  for (const route of connectRoutes(options.rpcRoutes, options.rpcOptions))
    app.post(route.path, route.handle, { parse: "none" });
}

/** Starts the HTTP listener (REST + Connect/gRPC-Web over HTTP/1.1) of one download. Throws if the port is taken. */
export function startHttpListener(options: HttpListenerOptions): RunningListener {
  return startGuardedApp({ ...options, isPublic: isDashboardFile, tokenHint: CONTROL_TOKEN_HINT }, (app) =>
    addControlRoutes(app, options),
  );
}
