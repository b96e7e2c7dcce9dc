import { UsageError } from "../../errors.ts";
import type { ListenAddress } from "../shared/listener.ts";

/** Highest `--listen` port: the RPC listener takes the next one. */
export const MAX_LISTEN_PORT = 65534;

function usage(input: string, expected: string): UsageError {
  return new UsageError(`--listen: expected ${expected}, got ${JSON.stringify(input)}`, {
    flag: "--listen",
    input,
    expected,
  });
}

/**
 * Parses `--listen [HOST:]PORT`: PORT 0..65534 (0 = any free port; the RPC listener takes PORT+1, or a free
 * one with 0); HOST an IP literal (`[::1]` for IPv6) or `localhost`, default 127.0.0.1. Whether a
 * non-loopback HOST is allowed is decided with `--listen-any` by {@link listenAddress}.
 */
export function parseListen(input: string): { readonly host: string | undefined; readonly port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(input.trim());
  const port = Number(match?.[2]);
  if (match === null || !(port <= MAX_LISTEN_PORT)) {
    throw usage(input, `[HOST:]PORT with PORT 0..${MAX_LISTEN_PORT}`);
  }
  const rawHost = match[1];
  if (rawHost === undefined) return { host: undefined, port };
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost.toLowerCase();
  // node:net on use only: loading it costs every `dlm get` ~6 MiB of RSS, and only --listen needs it.
  const { isIP } = require("node:net") as typeof import("node:net");
  if (host !== "localhost" && isIP(host) === 0) throw usage(input, "an IP address or localhost as HOST");
  return { host: host === "localhost" ? "127.0.0.1" : host, port };
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopbackHost(host: string): boolean {
  return host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Combines `--listen` and `--listen-any` (still before any I/O): loopback unless `--listen-any` is given;
 * with it a bare PORT binds every interface (0.0.0.0). Undefined when neither flag is given.
 */
export function listenAddress(
  listen: ReturnType<typeof parseListen> | undefined,
  listenAny: boolean,
): ListenAddress | undefined {
  if (listen === undefined) {
    if (listenAny) throw new UsageError("--listen-any: needs --listen [HOST:]PORT", { flag: "--listen-any" });
    return undefined;
  }
  const host = listen.host ?? (listenAny ? "0.0.0.0" : "127.0.0.1");
  if (!isLoopbackHost(host) && !listenAny) {
    throw new UsageError(
      `--listen: ${host} is not a loopback address; add --listen-any to accept connections from other machines`,
      { flag: "--listen", input: host },
    );
  }
  return { host, port: listen.port };
}

/** Flags `--listen` and `--listen-any`, shared by the commands that run a download. */
export const listenFlags = {
  listen: {
    kind: "parsed",
    parse: parseListen,
    brief:
      "Start the control API on [HOST:]PORT (0 = free port; gRPC on PORT+1); loopback unless --listen-any (default: none)",
    optional: true,
    placeholder: "[HOST:]PORT",
  },
  listenAny: {
    kind: "boolean",
    brief:
      "Allow a non-loopback --listen address (a bare PORT then binds all interfaces); token still needed (default off)",
    optional: true,
  },
} as const;

/** Parsed values of {@link listenFlags}. */
export interface ListenFlags {
  readonly listen?: ReturnType<typeof parseListen>;
  readonly listenAny?: boolean;
}
