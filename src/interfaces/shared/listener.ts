/**
 * What the two listeners of a control plane (HTTP: Elysia; RPC: node:http2) and the CLI agree on about
 * addresses, kept here so that neither listener imports the other's server code.
 */
import type { ConnectRouter, ConnectRouterOptions } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";

/** Where `--listen` binds: the HTTP listener on `port`, the RPC listener on `port + 1` (both free when 0). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** A listening server. */
export interface RunningListener {
  /** Base URL clients use, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting and closes every connection. */
  stop(): Promise<void>;
}

/** What both listeners serving Connect services are given (each adds its own connection bounds). */
export interface ConnectListenerOptions {
  readonly token: string;
  readonly host: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly routes: (router: ConnectRouter) => void;
  readonly rpcOptions: Partial<ConnectRouterOptions>;
  /** Where a client finds the token, for the 401 message (each listener has its default). */
  readonly tokenHint?: string;
  readonly log: Logger;
}

/** The host clients should use in URLs: loopback for a wildcard bind, IPv6 in brackets. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The URL that opens the dashboard of a listener at `httpBase` (`http://127.0.0.1:PORT`): the token rides in
 * the fragment, which browsers keep to themselves (never in a request line, a Referer or a server log).
 */
export function dashboardUrl(httpBase: string, token: string): string {
  return `${httpBase}/#token=${encodeURIComponent(token)}`;
}
