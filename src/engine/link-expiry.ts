/**
 * Statuses a signed link answers once it has expired (RFC 9110 §15.5.2, §15.5.4, §15.5.5, §15.5.11): S3 and
 * GCS say 403, some CDNs 401, 404 or 410. A 400 counts only when its body says so (see EXPIRED_BODY).
 */
const EXPIRY_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 410]);

/**
 * What a 400 body says when the signature or the request expired: S3 `Request has expired`, Azure
 * `Signature not valid in the specified time frame`, GCS `ExpiredToken`, CloudFront `Request has expired`.
 */
const EXPIRED_BODY = /expired|signature|time frame|token/i;

/** Bytes of a 400 body read to tell an expired signature from another bad request. */
export const EXPIRY_BODY_BYTES = 4096;

/** Whether the status alone may mean an expired link; a 400 needs its body (see isExpiryAnswer). */
export function mayBeExpiry(status: number): boolean {
  return EXPIRY_STATUSES.has(status) || status === 400;
}

/**
 * Whether an answer of `status` with (the start of) `body` says the link expired. Pure; the caller decides
 * whether the URL was a redirect target (a link the user gave directly is not refreshed from itself).
 */
export function isExpiryAnswer(status: number, body: string): boolean {
  if (EXPIRY_STATUSES.has(status)) return true;
  return status === 400 && EXPIRED_BODY.test(body);
}
