/** Headers that carry a user's credentials by name (RFC 9110 §11.6.2, §11.7.2; RFC 6265 §5.4). */
const CREDENTIAL_NAMES = new Set(["authorization", "proxy-authorization", "cookie"]);

/**
 * API keys and tokens sent in headers of their own (X-Api-Key, X-Auth-Token, Private-Token,
 * X-Amz-Security-Token, X-Goog-Api-Key...): a name whose last word is one of these.
 */
const CREDENTIAL_SUFFIX = /(^|[-_])(token|api-?key|apikey|key|secret|password|passwd|auth|session)$/i;

/**
 * True when a request header named `name` carries a credential: Authorization, Proxy-Authorization, Cookie,
 * or a name ending in Token, Api-Key, Key, Secret, Password, Auth or Session (case-insensitive). Such a
 * header is sent only to the origin it was given for (engine/http.ts) and is write-only in the manager: kept
 * to be used, shown as set without its value, never stored in events.
 */
export function isCredentialHeader(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return CREDENTIAL_NAMES.has(lower) || CREDENTIAL_SUFFIX.test(lower);
}
