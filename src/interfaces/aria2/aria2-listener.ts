import type { Server, ServerWebSocket } from "bun";
import type { RunningListener } from "../shared/listener.ts";
import { urlHost } from "../shared/listener.ts";
import { NOT_LISTENING, RequestGuard, rejectionResponse } from "../shared/request-guard.ts";
import { type Aria2Deps, Aria2Session } from "./aria2-session.ts";
import { Aria2Dispatcher } from "./dispatch.ts";
import { notifyFrom } from "./notifications.ts";
import { normalOrigin } from "./origin.ts";
import { RpcSecret } from "./secret.ts";

/** Largest request body or WebSocket message, bytes: the same cap as dlm serve's other listeners. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The path aria2 serves JSON-RPC on. */
export const RPC_PATH = "/jsonrpc";

/** WebSocket topic every notification is published on. */
const TOPIC = "aria2-notifications";

/** How `--aria2-rpc` listens. */
export interface Aria2ListenerOptions {
  readonly host: string;
  /** 0 = a free port. */
  readonly port: number;
  readonly secret: string;
  /** Browser origins allowed besides this listener's own (`--rpc-allow-origin`); never `*`. */
  readonly allowOrigins: readonly string[];
  readonly deps: Aria2Deps;
}

/** The aria2 listener: its base URL and the full JSON-RPC URL clients are given. */
export interface Aria2Listener extends RunningListener {
  /** `http://HOST:PORT/jsonrpc`. */
  readonly rpcUrl: string;
}

/** Parses GET's query as aria2 does: `method`, `id`, and `params` as base64 of the JSON array. */
function getRequest(url: URL): unknown {
  const params = url.searchParams.get("params");
  let decoded: unknown;
  if (params !== null) {
    try {
      decoded = JSON.parse(Buffer.from(params, "base64").toString("utf8"));
    } catch {
      decoded = "not JSON";
    }
  }
  return {
    jsonrpc: "2.0",
    method: url.searchParams.get("method") ?? undefined,
    id: url.searchParams.get("id") ?? undefined,
    ...(params === null ? {} : { params: decoded }),
  };
}

/**
 * aria2's JSON-RPC on /jsonrpc of its own port: HTTP POST (one call or a batch), HTTP GET (aria2's query
 * form; no JSONP, which would let any page read answers), and WebSocket with the notifications. Every
 * request passes the same RequestGuard as dlm serve's other listeners (Host names this listener, the body
 * cap) and a browser Origin must be this listener's own or one of `allowOrigins`; the secret is checked per
 * call by the dispatcher.
 */
export function startAria2Listener(options: Aria2ListenerOptions): Aria2Listener {
  const session = new Aria2Session(options.deps);
  const dispatcher = new Aria2Dispatcher(session, new RpcSecret(options.secret));
  const allowed = new Set(options.allowOrigins.map((origin) => normalOrigin(origin) ?? origin));
  let guard: RequestGuard | undefined;

  /** CORS headers for an allowed foreign origin (none otherwise: the browser then withholds the answer). */
  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin !== undefined && allowed.has(origin)
      ? { "access-control-allow-origin": origin, vary: "Origin" }
      : {};

  const json = (status: number, body: unknown, origin: string | undefined): Response =>
    new Response(JSON.stringify(body), {
      status,
      headers: {
        "content-type": "application/json-rpc",
        "cache-control": "no-cache",
        ...corsHeaders(origin),
      },
    });

  const server: Server<undefined> = Bun.serve<undefined>({
    hostname: options.host,
    port: options.port,
    maxRequestBodySize: MAX_BODY_BYTES,
    idleTimeout: 30,
    async fetch(request, srv) {
      const url = new URL(request.url);
      const originHeader = request.headers.get("origin") ?? undefined;
      const origin = originHeader === undefined ? undefined : normalOrigin(originHeader);
      const foreignAllowed = origin !== undefined && allowed.has(origin);
      const rejection =
        guard === undefined
          ? NOT_LISTENING
          : guard.check(
              {
                host: request.headers.get("host") ?? undefined,
                origin: foreignAllowed ? undefined : originHeader,
                authorization: undefined,
                contentLength: request.headers.get("content-length") ?? undefined,
              },
              false,
            );
      if (rejection !== undefined) return rejectionResponse(rejection, undefined);
      if (url.pathname !== RPC_PATH) return new Response("not found\n", { status: 404 });
      if (request.method === "OPTIONS") {
        return new Response(undefined, {
          status: 204,
          headers: {
            ...corsHeaders(origin),
            "access-control-allow-methods": "POST, GET, OPTIONS",
            "access-control-allow-headers": "Content-Type",
            "access-control-max-age": "1728000",
          },
        });
      }
      if (request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
        return srv.upgrade(request) ? undefined : new Response("WebSocket upgrade failed\n", { status: 400 });
      }
      if (request.method === "GET") {
        const answer = await dispatcher.message(getRequest(url));
        return json(answer.status, answer.body, origin);
      }
      if (request.method !== "POST") return new Response("method not allowed\n", { status: 405 });
      const answer = await dispatcher.text(await request.text());
      return json(answer.status, answer.body, origin);
    },
    websocket: {
      maxPayloadLength: MAX_BODY_BYTES,
      idleTimeout: 0,
      open(ws: ServerWebSocket<undefined>) {
        ws.subscribe(TOPIC);
      },
      async message(ws: ServerWebSocket<undefined>, message: string | Buffer) {
        const answer = await dispatcher.text(
          typeof message === "string" ? message : message.toString("utf8"),
        );
        ws.send(JSON.stringify(answer.body));
      },
    },
  });
  const port = server.port ?? options.port;
  guard = new RequestGuard(options.secret, { host: options.host, port }, MAX_BODY_BYTES);
  const unsubscribe = notifyFrom(options.deps.manager, (notification) => {
    server.publish(TOPIC, JSON.stringify(notification));
  });
  const base = `http://${urlHost(options.host)}:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    url: base,
    rpcUrl: `${base}${RPC_PATH}`,
    port,
    stop() {
      stopping ??= (async () => {
        unsubscribe();
        session.close();
        await server.stop(true);
      })();
      return stopping;
    },
  };
}
