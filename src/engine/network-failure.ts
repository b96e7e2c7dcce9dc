import { NetworkError, type NetworkReason } from "../errors.ts";

/**
 * The one boundary where a foreign error from the HTTP client (Bun's fetch: a `TypeError` with an errno-like
 * `code`, a `TimeoutError` DOMException...) becomes a typed `NetworkError`. Everything past this point
 * decides by `reason`, never by message text: a URL in the message must not change what dlm does.
 */
export function toNetworkError(error: unknown, method: string, url: string): NetworkError {
  if (error instanceof NetworkError) return error;
  const reason = networkReasonOf(error);
  return new NetworkError(`${method} ${url}: ${describeReason(reason, error)}`, {
    reason,
    url,
    cause: error,
  });
}

// Codes Bun's fetch and sockets put on `code` (errno names and Bun's own), by reason.
const CODES: Readonly<Record<string, NetworkReason>> = {
  ECONNREFUSED: "refused",
  ConnectionRefused: "refused",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_NONAME: "dns",
  DNSException: "dns",
  ECONNRESET: "reset",
  ConnectionReset: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  ConnectionClosed: "closed",
  ETIMEDOUT: "timeout",
  Timeout: "timeout",
  ENETUNREACH: "refused",
  EHOSTUNREACH: "refused",
  FailedToOpenSocket: "refused",
};

/** The `NetworkReason` of a foreign error (`protocol` for anything the client refused that is not listed). */
export function networkReasonOf(error: unknown): NetworkReason {
  if (error instanceof NetworkError) return error.reason;
  if (!(error instanceof Error)) return "protocol";
  if (error.name === "TimeoutError") return "timeout";
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code !== "string") return "protocol";
  const known = CODES[code];
  if (known !== undefined) return known;
  // OpenSSL/BoringSSL verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED,
  // DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID...) and Bun's TLS handshake errors.
  if (/CERT|TLS|SSL|SIGNATURE|HANDSHAKE/i.test(code)) return "tls";
  return "protocol";
}

const PHRASES: Readonly<Record<NetworkReason, string>> = {
  refused: "connection refused",
  dns: "host name not resolved",
  reset: "connection reset",
  tls: "TLS failed",
  timeout: "timed out",
  closed: "connection closed",
  protocol: "malformed or refused response",
};

/**
 * One phrase for a network failure without its URL ("connection reset", "TLS failed (CERT_HAS_EXPIRED)"),
 * from the innermost cause: for messages that name the URL and segment themselves.
 */
export function describeNetworkFailure(reason: NetworkReason, error: unknown): string {
  return describeReason(
    reason,
    error instanceof NetworkError && error.cause !== undefined ? error.cause : error,
  );
}

/** One phrase for the reason plus the client's own words when they add something ("CERT_HAS_EXPIRED"). */
function describeReason(reason: NetworkReason, error: unknown): string {
  const phrase = PHRASES[reason];
  if (!(error instanceof Error)) return phrase;
  const code = (error as Error & { code?: unknown }).code;
  if (reason === "tls" || reason === "protocol" || reason === "dns") {
    const detail = typeof code === "string" && code !== "" ? code : error.message.split("\n")[0];
    return detail === undefined || detail === "" ? phrase : `${phrase} (${detail})`;
  }
  return phrase;
}
