import { isCredentialHeader } from "../../engine/credential-headers.ts";

// Credential headers (engine/credential-headers.ts has the one rule of which they are) are write-only: dlm
// keeps their values for the download's own requests and never shows them. Every message, event and
// command output says only that one is set.

/** What a credential header's value is shown as. */
export const REDACTED_VALUE = "set";

/** `headers` with every credential's value replaced by {@link REDACTED_VALUE}. */
export function redactHeaders(
  headers: readonly (readonly [string, string])[],
): readonly (readonly [string, string])[] {
  return headers.map(([name, value]) => [name, isCredentialHeader(name) ? REDACTED_VALUE : value] as const);
}

/**
 * Headers a client sends back in an Update: a credential whose value is {@link REDACTED_VALUE} (as it was
 * shown) becomes "", which the manager reads as "keep the stored value" (see manager/secret-headers.ts).
 */
export function unredactHeaders(
  headers: readonly (readonly [string, string])[],
): (readonly [string, string])[] {
  return headers.map(([name, value]) =>
    isCredentialHeader(name) && value === REDACTED_VALUE ? ([name, ""] as const) : ([name, value] as const),
  );
}
