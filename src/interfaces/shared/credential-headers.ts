/**
 * Request headers that carry a user's credentials. dlm keeps their values for the download's own requests
 * and never shows them: every message, event and command output says only that one is set.
 */
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

/** Names that say "secret" whatever the header (`X-Api-Key`, `X-Auth-Token`, `X-Session-Id`...). */
const SECRET_NAME = /(?:api[-_]?key|token|secret|passw|session|auth)/i;

/** What a credential header's value is shown as. */
export const REDACTED_VALUE = "set";

/** True when `name` carries credentials (case-insensitive). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase()) || SECRET_NAME.test(name);
}

/** `headers` with every credential's value replaced by {@link REDACTED_VALUE}. */
export function redactHeaders(
  headers: readonly (readonly [string, string])[],
): readonly (readonly [string, string])[] {
  return headers.map(([name, value]) => [name, isCredentialHeader(name) ? REDACTED_VALUE : value] as const);
}
