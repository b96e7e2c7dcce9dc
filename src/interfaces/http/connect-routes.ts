import { type ConnectRouter, type ConnectRouterOptions, createConnectRouter } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";

/** What a route handler needs of Elysia's context. */
interface RouteContext {
  readonly request: Request;
  readonly server: { timeout(request: Request, seconds: number): void } | null;
}

/** One Connect method as a POST route (mounted with `{ parse: "none" }`: Connect reads the body itself). */
export interface ConnectRoute {
  readonly path: string;
  readonly handle: (context: RouteContext) => Promise<Response>;
}

/**
 * The routes of Connect services for an HTTP/1.1 listener (Connect and gRPC-Web). A server stream may stay
 * quiet longer than the idle timeout (nothing published): each such request is exempt from it.
 */
export function connectRoutes(
  routes: (router: ConnectRouter) => void,
  options: Partial<ConnectRouterOptions>,
): ConnectRoute[] {
  const router = createConnectRouter(options);
  routes(router);
  return router.handlers.map((handler) => {
    const handle = createFetchHandler(handler);
    return {
      path: handler.requestPath,
      handle: ({ request, server }) => {
        server?.timeout(request, 0);
        return handle(request);
      },
    };
  });
}
