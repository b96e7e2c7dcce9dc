/** A parsed Content-Range: a satisfied range (inclusive offsets; `total` undefined for `/*`) or a 416's size. */
export type ContentRange =
  | { readonly start: number; readonly end: number; readonly total: number | undefined }
  | { readonly unsatisfiedTotal: number };

/** What a segment request asked for and the validators the download started with. Offsets inclusive. */
export interface ExpectedRange {
  readonly start: number;
  readonly end: number;
  /** Size of the whole file in bytes, when known. */
  readonly total: number | undefined;
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
}

/**
 * Why a range response cannot be used. `status` and `bad-response` are `FailureKind`s (retry policy decides);
 * `ignored-range` is a 200 whole-file answer; `changed` means the remote file is no longer the one being
 * downloaded and nothing may be mixed.
 */
export type RangeCheckFailure =
  | { readonly kind: "status"; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: "bad-response"; readonly reason: string }
  | { readonly kind: "ignored-range" }
  | {
      readonly kind: "changed";
      readonly what: "etag" | "last-modified" | "size";
      readonly expected: string;
      readonly actual: string;
    };

/**
 * Outcome of `checkRangeResponse`; `length` is the number of body bytes that were asked for. `surplus` (bytes)
 * is set when the answer starts where asked but runs further (a superset): the caller keeps the first `length`
 * bytes and closes the connection instead of reading the rest.
 */
export type RangeCheck =
  | { readonly ok: true; readonly length: number; readonly surplus?: number }
  | { readonly ok: false; readonly failure: RangeCheckFailure };

// RFC 9110 §14.4: Content-Range = range-unit SP ( incl-range "/" ( complete-length / "*" ) / "*/" complete-length ).
// Range units are case-insensitive (§14.1); exactly one SP, no spaces inside, so "bytes 0 - 1/2" is rejected.
const SATISFIED = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i;
const UNSATISFIED = /^bytes \*\/(\d+)$/i;

/**
 * Parses a Content-Range header value. `undefined` when absent or malformed: another unit than bytes, a
 * missing part, end < start, end >= total, or numbers beyond 2^53. Surrounding whitespace is ignored.
 */
export function parseContentRange(value: string | null | undefined): ContentRange | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  const unsatisfied = UNSATISFIED.exec(text);
  if (unsatisfied !== null) {
    const total = safeInteger(unsatisfied[1]);
    return total === undefined ? undefined : { unsatisfiedTotal: total };
  }
  const m = SATISFIED.exec(text);
  if (m === null) return undefined;
  const start = safeInteger(m[1]);
  const end = safeInteger(m[2]);
  const total = m[3] === "*" ? undefined : safeInteger(m[3]);
  if (start === undefined || end === undefined || end < start) return undefined;
  if (m[3] !== "*" && (total === undefined || end >= total)) return undefined;
  return { start, end, total };
}

/**
 * True for a strong entity-tag (RFC 9110 §8.8.3): a quoted opaque tag without the `W/` prefix. Only these may
 * be sent in If-Range (§13.1.5); unquoted, non-conforming tags count as not strong.
 */
export function isStrongEtag(etag: string | undefined): boolean {
  return etag !== undefined && /^"[\x21\x23-\x7e\x80-\xff]*"$/.test(etag);
}

/**
 * Checks the answer to `Range: bytes=start-end` before any body byte is used. In order:
 * - a validator that differs from the download's → `changed` (ETag strings compared exactly when both sides
 *   have one; Last-Modified only when no ETag was known). Checked first: a changed file is never retried.
 * - 200 → `changed` size when its Content-Length contradicts the known total, else `ignored-range`.
 * - 416 whose `unsatisfiedTotal` contradicts the known total → `changed` size (the file shrank).
 * - any other status but 206 → `status`, carrying Retry-After when sent (ready for `decideRetry`).
 * - 206: Content-Range missing or malformed → `bad-response`; a different total → `changed` size; another
 *   start, or an end before the asked one, or a Content-Length other than the Content-Range's length →
 *   `bad-response`. An end past the asked one is a superset (some servers answer every Range up to the end
 *   of the file): ok, with `surplus` the bytes past the asked end.
 * On success `length` is end-start+1 bytes of the asked range.
 */
export function checkRangeResponse(
  res: { status: number; headers: Headers },
  expected: ExpectedRange,
): RangeCheck {
  const changed = validatorChange(res.headers, expected);
  if (changed !== undefined) return fail(changed);
  const contentRange = res.headers.get("content-range");
  if (res.status === 200) {
    // A 200 carries the whole file, so its Content-Length is the current size.
    const size = decimal(res.headers.get("content-length"));
    if (size !== undefined && expected.total !== undefined && size !== expected.total) {
      return fail(sizeChange(expected.total, size));
    }
    return fail({ kind: "ignored-range" });
  }
  if (res.status === 416) {
    // RFC 9110 §15.5.17: a 416 states the current size; a smaller file is why the range is unsatisfiable.
    const parsed = parseContentRange(contentRange);
    if (parsed !== undefined && "unsatisfiedTotal" in parsed && expected.total !== undefined) {
      if (parsed.unsatisfiedTotal !== expected.total) {
        return fail(sizeChange(expected.total, parsed.unsatisfiedTotal));
      }
    }
  }
  if (res.status !== 206) {
    const retryAfter = res.headers.get("retry-after");
    return fail(
      retryAfter === null
        ? { kind: "status", status: res.status }
        : { kind: "status", status: res.status, retryAfter },
    );
  }
  const range = parseContentRange(contentRange);
  if (range === undefined || "unsatisfiedTotal" in range) {
    return badResponse(
      `206 with ${contentRange === null ? "no Content-Range" : `invalid Content-Range "${contentRange}"`}`,
    );
  }
  if (expected.total !== undefined && range.total !== undefined && range.total !== expected.total) {
    return fail(sizeChange(expected.total, range.total));
  }
  if (range.start !== expected.start || range.end < expected.end) {
    return badResponse(
      `Content-Range "${contentRange}" does not match the requested bytes ${expected.start}-${expected.end}`,
    );
  }
  const sent = range.end - range.start + 1;
  const contentLength = res.headers.get("content-length");
  if (contentLength !== null && decimal(contentLength) !== sent) {
    return badResponse(
      `Content-Length ${contentLength} does not match Content-Range ${range.start}-${range.end} (${sent} bytes)`,
    );
  }
  const length = expected.end - expected.start + 1;
  return sent === length ? { ok: true, length } : { ok: true, length, surplus: sent - length };
}

function validatorChange(headers: Headers, expected: ExpectedRange): RangeCheckFailure | undefined {
  const etag = headers.get("etag") ?? undefined;
  if (expected.etag !== undefined) {
    if (etag !== undefined && etag !== expected.etag) {
      return { kind: "changed", what: "etag", expected: expected.etag, actual: etag };
    }
    return undefined;
  }
  const lastModified = headers.get("last-modified") ?? undefined;
  if (
    expected.lastModified !== undefined &&
    lastModified !== undefined &&
    lastModified !== expected.lastModified
  ) {
    return { kind: "changed", what: "last-modified", expected: expected.lastModified, actual: lastModified };
  }
  return undefined;
}

function sizeChange(expected: number, actual: number): RangeCheckFailure {
  return { kind: "changed", what: "size", expected: String(expected), actual: String(actual) };
}

function fail(failure: RangeCheckFailure): RangeCheck {
  return { ok: false, failure };
}

function badResponse(reason: string): RangeCheck {
  return { ok: false, failure: { kind: "bad-response", reason } };
}

/** A decimal integer that a JS number holds exactly, else `undefined`. */
function safeInteger(digits: string | undefined): number | undefined {
  if (digits === undefined) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A header holding only a decimal length (Content-Length, RFC 9110 §8.6), else `undefined`. */
function decimal(value: string | null): number | undefined {
  const text = value?.trim();
  return text !== undefined && /^\d+$/.test(text) ? safeInteger(text) : undefined;
}
