import { describe, expect, test } from "bun:test";
import { describeNetworkFailure, networkReasonOf, toNetworkError } from "../src/engine/network-failure.ts";
import { NetworkError, type NetworkReason } from "../src/errors.ts";

const coded = (code: string, message = "x") => Object.assign(new TypeError(message), { code });

describe("networkReasonOf: one classification of the client's errors, by code, never by message", () => {
  const rows: [string, unknown, NetworkReason][] = [
    ["refused", coded("ECONNREFUSED"), "refused"],
    ["dns", coded("ENOTFOUND", "getaddrinfo ENOTFOUND x"), "dns"],
    ["reset (a cut body, as Bun's fetch reports it)", coded("ECONNRESET"), "reset"],
    ["TLS verification", coded("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "tls"],
    ["TLS self-signed", coded("DEPTH_ZERO_SELF_SIGNED_CERT"), "tls"],
    ["TLS wrong name", coded("ERR_TLS_CERT_ALTNAME_INVALID"), "tls"],
    ["timeout", new DOMException("The operation timed out.", "TimeoutError"), "timeout"],
    ["oversized head", coded("ResponseHeadersTooLarge"), "protocol"],
    // A host name holding "dns" or "refused" in the message must not change the reason.
    ["message text is ignored", coded("ECONNRESET", "fetching http://dns-refused.example/"), "reset"],
    ["no code", new TypeError("connection refused"), "protocol"],
    ["not an error", "boom", "protocol"],
  ];
  test.each(rows)("%s", (_name, error, reason) => {
    expect(networkReasonOf(error)).toBe(reason);
    expect(toNetworkError(error, "GET", "http://h/f").reason).toBe(reason);
  });

  test("a NetworkError keeps its reason and is not wrapped twice", () => {
    const inner = new NetworkError("GET u: timed out", { reason: "timeout" });
    expect(toNetworkError(inner, "GET", "u")).toBe(inner);
  });

  test("the message names method and URL and keeps the innermost code", () => {
    const error = toNetworkError(coded("CERT_HAS_EXPIRED"), "GET", "https://h/f");
    expect(error.message).toBe("GET https://h/f: TLS failed (CERT_HAS_EXPIRED)");
    expect(describeNetworkFailure(error.reason, error)).toBe("TLS failed (CERT_HAS_EXPIRED)");
  });
});
