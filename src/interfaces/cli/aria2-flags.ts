import { UsageError } from "../../errors.ts";
import { normalOrigin } from "../aria2/origin.ts";
import type { ListenAddress } from "../shared/listener.ts";
import { isLoopbackHost, parseListen } from "./listen-address.ts";

/** aria2's own RPC address, taken when `--aria2-rpc` is given without a value. */
export const ARIA2_DEFAULT = { host: "127.0.0.1", port: 6800 } as const;

/**
 * Parses `--aria2-rpc [HOST:]PORT` ("" when given bare: 127.0.0.1:6800). Loopback only unless the
 * command's `--listen-any` is also given (checked by {@link aria2Address}).
 */
export function parseAria2Rpc(input: string): ListenAddress {
  if (input.trim() === "") return ARIA2_DEFAULT;
  let parsed: ReturnType<typeof parseListen>;
  try {
    parsed = parseListen(input);
  } catch {
    throw new UsageError(`--aria2-rpc: expected [HOST:]PORT, got ${JSON.stringify(input)}`, {
      flag: "--aria2-rpc",
      input,
      expected: "[HOST:]PORT",
    });
  }
  return { host: parsed.host ?? ARIA2_DEFAULT.host, port: parsed.port };
}

/**
 * Where the aria2 listener binds (undefined without `--aria2-rpc`), refusing a non-loopback host without
 * `--listen-any` and the other aria2 flags without `--aria2-rpc` (they would silently do nothing).
 */
export function aria2Listen(flags: Aria2Flags, listenAny: boolean): ListenAddress | undefined {
  if (flags.aria2Rpc !== undefined) return aria2Address(flags.aria2Rpc, listenAny);
  const given =
    flags.rpcSecret !== undefined
      ? "--rpc-secret"
      : flags.rpcAllowOrigin !== undefined
        ? "--rpc-allow-origin"
        : flags.rpcAllowShutdown !== undefined
          ? "--rpc-allow-shutdown"
          : undefined;
  if (given !== undefined) throw new UsageError(`${given}: needs --aria2-rpc [HOST:]PORT`, { flag: given });
  return undefined;
}

/** The aria2 address to bind, refusing a non-loopback host without `--listen-any`. */
export function aria2Address(address: ListenAddress, listenAny: boolean): ListenAddress {
  if (!isLoopbackHost(address.host) && !listenAny) {
    throw new UsageError(
      `--aria2-rpc: ${address.host} is not a loopback address; add --listen-any to accept other machines`,
      { flag: "--aria2-rpc", input: address.host },
    );
  }
  return address;
}

/** `--rpc-secret`: aria2's secret; empty is refused (a secret is always required). */
export function parseRpcSecret(input: string): string {
  if (input === "" || /[\s]/.test(input)) {
    throw new UsageError("--rpc-secret: expected a non-empty secret without spaces", {
      flag: "--rpc-secret",
    });
  }
  return input;
}

/** `--rpc-allow-origin`: a page's origin (http://localhost:6880) or an extension's (chrome-extension://ID); never `*`. */
export function parseAllowOrigin(input: string): string {
  const origin = normalOrigin(input);
  if (origin === undefined) {
    throw new UsageError(
      `--rpc-allow-origin: expected an origin such as http://localhost:6880, got ${JSON.stringify(input)}`,
      {
        flag: "--rpc-allow-origin",
        input,
      },
    );
  }
  return origin;
}

/** The aria2 flags of `dlm serve`. */
export const aria2Flags = {
  aria2Rpc: {
    kind: "parsed",
    parse: parseAria2Rpc,
    inferEmpty: true,
    brief:
      "Also answer aria2's JSON-RPC (AriaNg, browser extensions) on [HOST:]PORT/jsonrpc (bare: 127.0.0.1:6800)",
    optional: true,
    placeholder: "[HOST:]PORT",
  },
  rpcSecret: {
    kind: "parsed",
    parse: parseRpcSecret,
    brief: "The aria2 secret clients send as token:SECRET (default: generated and printed)",
    optional: true,
    placeholder: "SECRET",
  },
  rpcAllowOrigin: {
    kind: "parsed",
    parse: parseAllowOrigin,
    variadic: true,
    brief: "A browser origin allowed to call the aria2 RPC (repeatable; e.g. where AriaNg is served from)",
    optional: true,
    placeholder: "ORIGIN",
  },
  rpcAllowShutdown: {
    kind: "boolean",
    brief: "Let aria2's shutdown/forceShutdown stop dlm serve (default: refused)",
    optional: true,
  },
} as const;

/** Parsed values of {@link aria2Flags}. */
export interface Aria2Flags {
  readonly aria2Rpc?: ListenAddress;
  readonly rpcSecret?: string;
  readonly rpcAllowOrigin?: readonly string[];
  readonly rpcAllowShutdown?: boolean;
}
