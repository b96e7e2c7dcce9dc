import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** The address a listener is bound to, as given (`127.0.0.1`, `::1`, `0.0.0.0`...) and its actual port. */
export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

/** The request headers the guard looks at (undefined when absent). */
export interface RequestFacts {
  /** `Host`, or `:authority` over HTTP/2. */
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly authorization: string | undefined;
  readonly contentLength: string | undefined;
}

/**
 * Why a request is refused. `code` uses the gRPC/Connect vocabulary so Connect clients decode the JSON body
 * as a proper error: 401 unauthenticated, 403 permission_denied, 413 resource_exhausted.
 */
export interface Rejection {
  readonly status: 401 | 403 | 413;
  readonly code: "unauthenticated" | "permission_denied" | "resource_exhausted";
  readonly message: string;
}

/** What a request gets before the listener knows its port (and so cannot check Host). */
export const NOT_LISTENING: Rejection = {
  status: 403,
  code: "permission_denied",
  message: "the control plane is not listening yet",
};

/** Where the token of a `dlm get --listen` is. */
export const CONTROL_TOKEN_HINT = "see FILE.dlm/control.json";

/** Where the token of `dlm serve` is. */
export const SERVE_TOKEN_HINT = "see serve.json in dlm's home";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * The security checks every control-plane request passes first, in this order: the Host header names this
 * listener (403; stops DNS rebinding), a browser's Origin is this listener (403), the bearer token matches
 * (401; compared in constant time; skipped only for the dashboard's static files), the declared body fits
 * the cap (413).
 */
export class RequestGuard {
  readonly #digest: Buffer;
  readonly #listener: ListenerAddress;
  readonly #maxBodyBytes: number;
  readonly #tokenHint: string;

  /** `tokenHint` tells a refused client where the token is (`dlm serve` keeps it elsewhere than `get`). */
  constructor(
    token: string,
    listener: ListenerAddress,
    maxBodyBytes: number,
    tokenHint = CONTROL_TOKEN_HINT,
  ) {
    this.#digest = sha256(token);
    this.#listener = listener;
    this.#maxBodyBytes = maxBodyBytes;
    this.#tokenHint = tokenHint;
  }

  /**
   * Undefined when the request may proceed, else why not. `requireToken` is false only for files that carry
   * no data (the dashboard's page, script and style), which a browser navigation must load without a token.
   */
  check(facts: RequestFacts, requireToken = true): Rejection | undefined {
    if (facts.host === undefined || !this.namesListener(facts.host)) {
      return reject(
        403,
        "permission_denied",
        `Host ${JSON.stringify(facts.host ?? "")} does not name this listener`,
      );
    }
    if (facts.origin !== undefined && !this.#sameOrigin(facts.origin)) {
      return reject(
        403,
        "permission_denied",
        `requests from origin ${JSON.stringify(facts.origin)} are refused`,
      );
    }
    if (requireToken && !this.#tokenMatches(facts.authorization)) {
      return reject(401, "unauthenticated", `missing or wrong bearer token (${this.#tokenHint})`);
    }
    const length = facts.contentLength === undefined ? 0 : Number(facts.contentLength);
    if (!(length <= this.#maxBodyBytes)) {
      return reject(413, "resource_exhausted", `request body over ${this.#maxBodyBytes} bytes`);
    }
    return undefined;
  }

  /**
   * True when `hostHeader` (`name[:port]`) is this listener: the port matches and the name is its address,
   * a loopback name for a loopback or wildcard listener, or any IP literal for a wildcard listener. DNS names
   * other than `localhost` are refused, since a rebound name is exactly what this check must stop.
   */
  namesListener(hostHeader: string): boolean {
    const parsed = splitHost(hostHeader);
    if (parsed === undefined || parsed.port !== this.#listener.port) return false;
    const bound = bracket(this.#listener.host.toLowerCase());
    if (parsed.name === bound) return true;
    const wildcard = WILDCARDS.has(bound);
    if ((wildcard || isLoopback(bound)) && LOOPBACK_NAMES.has(parsed.name)) return true;
    return wildcard && isIP(unbracket(parsed.name)) !== 0;
  }

  #sameOrigin(origin: string): boolean {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (sandboxed frames, file: pages) and garbage
    }
    return url.protocol === "http:" && this.namesListener(url.port === "" ? `${url.hostname}:80` : url.host);
  }

  #tokenMatches(authorization: string | undefined): boolean {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? "");
    // Hashing first gives equal lengths, so the comparison time says nothing about the token.
    return timingSafeEqual(sha256(match?.[1] ?? ""), this.#digest) && match !== null;
  }
}

function reject(status: Rejection["status"], code: Rejection["code"], message: string): Rejection {
  return { status, code, message };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** `name[:port]` → lower-case name (IPv6 kept in brackets) and port (80 when absent); undefined if malformed. */
function splitHost(value: string): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (match?.[1] === undefined) return undefined;
  return { name: match[1].toLowerCase(), port: match[2] === undefined ? 80 : Number(match[2]) };
}

function bracket(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function unbracket(name: string): string {
  return name.startsWith("[") ? name.slice(1, -1) : name;
}

function isLoopback(name: string): boolean {
  return LOOPBACK_NAMES.has(name) || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * `grpc-message` encoding of the gRPC HTTP/2 spec: only `%` and bytes outside printable ASCII are escaped,
 * so every client (grpc-js decodes with `decodeURI`) shows `:` and `/` as they are.
 */
function percentEncode(text: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** gRPC status numbers of the rejection codes (trailers-only answers for gRPC and gRPC-Web clients). */
const GRPC_STATUS: Readonly<Record<Rejection["code"], number>> = {
  unauthenticated: 16,
  permission_denied: 7,
  resource_exhausted: 8,
};

/**
 * The answer to a refused request in the protocol the client speaks: gRPC and gRPC-Web clients get a
 * trailers-only 200 with `grpc-status` (what they read first), everyone else the HTTP status with a JSON
 * `{code, message}` body, which Connect clients also decode as an error. 401 adds `WWW-Authenticate`.
 */
export function rejectionResponse(rejection: Rejection, contentType: string | undefined): Response {
  const headers = new Headers();
  if (rejection.status === 401) headers.set("www-authenticate", 'Bearer realm="dlm"');
  if (contentType?.startsWith("application/grpc") === true) {
    headers.set("content-type", contentType);
    headers.set("grpc-status", String(GRPC_STATUS[rejection.code]));
    headers.set("grpc-message", percentEncode(rejection.message));
    return new Response(undefined, { status: 200, headers });
  }
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify({ code: rejection.code, message: rejection.message }), {
    status: rejection.status,
    headers,
  });
}
