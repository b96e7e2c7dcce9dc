import { describe, expect, test } from "bun:test";
import {
  type ContentRange,
  checkRangeResponse,
  type ExpectedRange,
  isStrongEtag,
  parseContentRange,
  type RangeCheck,
} from "../src/engine/response-check.ts";

describe("parseContentRange", () => {
  const rows: [string, string | null | undefined, ContentRange | undefined][] = [
    ["a range with total", "bytes 0-9/10", { start: 0, end: 9, total: 10 }],
    ["a middle range", "bytes 100-199/1000", { start: 100, end: 199, total: 1000 }],
    ["a one-byte range", "bytes 0-0/1", { start: 0, end: 0, total: 1 }],
    ["unknown total", "bytes 5-9/*", { start: 5, end: 9, total: undefined }],
    ["unsatisfied", "bytes */1000", { unsatisfiedTotal: 1000 }],
    ["unsatisfied, empty file", "bytes */0", { unsatisfiedTotal: 0 }],
    ["unit is case-insensitive", "Bytes 0-1/2", { start: 0, end: 1, total: 2 }],
    ["outer whitespace ignored", "  bytes 0-1/2 ", { start: 0, end: 1, total: 2 }],
    [
      "beyond 4 GiB",
      "bytes 4294967296-8589934591/8589934592",
      { start: 2 ** 32, end: 2 ** 33 - 1, total: 2 ** 33 },
    ],
    ["absent (undefined)", undefined, undefined],
    ["absent (null)", null, undefined],
    ["empty", "", undefined],
    ["end before start", "bytes 5-3/10", undefined],
    ["end equals total", "bytes 0-10/10", undefined],
    ["end beyond total", "bytes 0-9/5", undefined],
    ["another unit", "items 0-1/2", undefined],
    ["no total", "bytes 0-1", undefined],
    ["no unit", "0-1/2", undefined],
    ["unit without space", "bytes0-1/2", undefined],
    ["two spaces after unit", "bytes  0-1/2", undefined],
    ["spaces around dash", "bytes 0 - 1/2", undefined],
    ["space before slash", "bytes 0-1 /2", undefined],
    ["space after slash", "bytes 0-1/ 2", undefined],
    ["equals sign (request syntax)", "bytes=0-1/2", undefined],
    ["open end", "bytes 0-/10", undefined],
    ["suffix form", "bytes -5/10", undefined],
    ["negative numbers", "bytes -1-5/10", undefined],
    ["two ranges", "bytes 0-1,3-4/10", undefined],
    ["non-digits", "bytes a-b/c", undefined],
    ["fractional", "bytes 0-1.5/10", undefined],
    ["unsatisfied without total", "bytes */*", undefined],
    ["beyond 2^53", "bytes 0-1/99999999999999999999", undefined],
    ["trailing junk", "bytes 0-1/2 extra", undefined],
  ];
  test.each(rows)("%s: %p", (_name, value, expected) => {
    expect(parseContentRange(value)).toEqual(expected);
  });
});

describe("isStrongEtag", () => {
  const rows: [string | undefined, boolean][] = [
    ['"abc"', true],
    ['""', true],
    ['"5f1e-61b4f5d8a3c40"', true],
    ['W/"abc"', false],
    ['w/"abc"', false],
    ["abc", false],
    ['"abc', false],
    ['"a"b"', false],
    ['"a b"', false],
    ["", false],
    [undefined, false],
  ];
  test.each(rows)("%p → %p", (etag, strong) => {
    expect(isStrongEtag(etag)).toBe(strong);
  });
});

describe("checkRangeResponse", () => {
  const ETAG = '"v1"';
  const LM = "Sun, 15 Jun 2025 12:00:00 GMT";
  const want: ExpectedRange = { start: 100, end: 199, total: 1000, etag: ETAG };
  const res = (status: number, headers: Record<string, string>) => ({
    status,
    headers: new Headers(headers),
  });
  const ok = (length: number): RangeCheck => ({ ok: true, length });
  const bad = (reason: string): RangeCheck => ({ ok: false, failure: { kind: "bad-response", reason } });
  const changed = (
    what: "etag" | "last-modified" | "size",
    expected: string,
    actual: string,
  ): RangeCheck => ({
    ok: false,
    failure: { kind: "changed", what, expected, actual },
  });
  const good = { "content-range": "bytes 100-199/1000", "content-length": "100", etag: ETAG };

  const rows: [string, ReturnType<typeof res>, ExpectedRange, RangeCheck][] = [
    ["206 exactly as asked", res(206, good), want, ok(100)],
    [
      "206 without Content-Length (chunked)",
      res(206, { "content-range": "bytes 100-199/1000" }),
      want,
      ok(100),
    ],
    ["206 with total *", res(206, { "content-range": "bytes 100-199/*" }), want, ok(100)],
    ["206 when the total was unknown", res(206, good), { ...want, total: undefined }, ok(100)],
    [
      "206 without ETag while one was known",
      res(206, { "content-range": "bytes 100-199/1000" }),
      want,
      ok(100),
    ],
    ["206 one byte", res(206, { "content-range": "bytes 0-0/1000" }), { ...want, start: 0, end: 0 }, ok(1)],
    [
      "206 with the same Last-Modified, no ETag known",
      res(206, { "content-range": "bytes 100-199/1000", "last-modified": LM }),
      { start: 100, end: 199, total: 1000, lastModified: LM },
      ok(100),
    ],
    [
      "206 without Content-Range",
      res(206, { "content-length": "100" }),
      want,
      bad("206 with no Content-Range"),
    ],
    [
      "206 with end before start",
      res(206, { "content-range": "bytes 5-3/10" }),
      want,
      bad('206 with invalid Content-Range "bytes 5-3/10"'),
    ],
    [
      "206 with end beyond total",
      res(206, { "content-range": "bytes 0-9/5" }),
      want,
      bad('206 with invalid Content-Range "bytes 0-9/5"'),
    ],
    [
      "206 with another unit",
      res(206, { "content-range": "items 0-1/2" }),
      want,
      bad('206 with invalid Content-Range "items 0-1/2"'),
    ],
    [
      "206 without total",
      res(206, { "content-range": "bytes 0-1" }),
      want,
      bad('206 with invalid Content-Range "bytes 0-1"'),
    ],
    [
      "206 with extra spaces",
      res(206, { "content-range": "bytes 100 - 199/1000" }),
      want,
      bad('206 with invalid Content-Range "bytes 100 - 199/1000"'),
    ],
    [
      "206 with an unsatisfied range",
      res(206, { "content-range": "bytes */1000" }),
      want,
      bad('206 with invalid Content-Range "bytes */1000"'),
    ],
    [
      "206 starting elsewhere",
      res(206, { "content-range": "bytes 0-199/1000" }),
      want,
      bad('Content-Range "bytes 0-199/1000" does not match the requested bytes 100-199'),
    ],
    [
      "206 ending early",
      res(206, { "content-range": "bytes 100-149/1000" }),
      want,
      bad('Content-Range "bytes 100-149/1000" does not match the requested bytes 100-199'),
    ],
    [
      "206 ending late (a superset: what was asked, then more)",
      res(206, { "content-range": "bytes 100-999/1000", "content-length": "900" }),
      want,
      { ok: true, length: 100, surplus: 800 },
    ],
    [
      "206 ending late with a Content-Length of the asked range only",
      res(206, { "content-range": "bytes 100-999/1000", "content-length": "100" }),
      want,
      bad("Content-Length 100 does not match Content-Range 100-999 (900 bytes)"),
    ],
    [
      "206 with a wrong Content-Length",
      res(206, { ...good, "content-length": "99" }),
      want,
      bad("Content-Length 99 does not match Content-Range 100-199 (100 bytes)"),
    ],
    [
      "206 with a non-numeric Content-Length",
      res(206, { ...good, "content-length": "lots" }),
      want,
      bad("Content-Length lots does not match Content-Range 100-199 (100 bytes)"),
    ],
    [
      "206 with another total",
      res(206, { "content-range": "bytes 100-199/2000" }),
      want,
      changed("size", "1000", "2000"),
    ],
    ["206 with another ETag", res(206, { ...good, etag: '"v2"' }), want, changed("etag", ETAG, '"v2"')],
    [
      "206 with a weak ETag for a strong one",
      res(206, { ...good, etag: 'W/"v1"' }),
      want,
      changed("etag", ETAG, 'W/"v1"'),
    ],
    [
      "206 with another ETag and a bad Content-Range: changed wins",
      res(206, { "content-range": "bytes 5-3/10", etag: '"v2"' }),
      want,
      changed("etag", ETAG, '"v2"'),
    ],
    [
      "206 with another Last-Modified, no ETag known",
      res(206, { "content-range": "bytes 100-199/1000", "last-modified": "Mon, 16 Jun 2025 12:00:00 GMT" }),
      { start: 100, end: 199, total: 1000, lastModified: LM },
      changed("last-modified", LM, "Mon, 16 Jun 2025 12:00:00 GMT"),
    ],
    [
      "206 with another Last-Modified but the same ETag: ETag decides",
      res(206, { ...good, "last-modified": "Mon, 16 Jun 2025 12:00:00 GMT" }),
      { ...want, lastModified: LM },
      ok(100),
    ],
    [
      "200 instead of 206",
      res(200, { "content-length": "1000", etag: ETAG }),
      want,
      { ok: false, failure: { kind: "ignored-range" } },
    ],
    ["200 without Content-Length", res(200, {}), want, { ok: false, failure: { kind: "ignored-range" } }],
    [
      "200 with another ETag (If-Range said changed)",
      res(200, { etag: '"v2"' }),
      want,
      changed("etag", ETAG, '"v2"'),
    ],
    [
      "200 with another size",
      res(200, { "content-length": "1500", etag: ETAG }),
      want,
      changed("size", "1000", "1500"),
    ],
    [
      "416 with a smaller file",
      res(416, { "content-range": "bytes */150" }),
      want,
      changed("size", "1000", "150"),
    ],
    [
      "416 with the same size",
      res(416, { "content-range": "bytes */1000" }),
      want,
      { ok: false, failure: { kind: "status", status: 416 } },
    ],
    ["404", res(404, {}), want, { ok: false, failure: { kind: "status", status: 404 } }],
    ["503", res(503, {}), want, { ok: false, failure: { kind: "status", status: 503 } }],
    [
      "503 with Retry-After",
      res(503, { "retry-after": "7" }),
      want,
      { ok: false, failure: { kind: "status", status: 503, retryAfter: "7" } },
    ],
    [
      "429 with an HTTP-date Retry-After",
      res(429, { "retry-after": LM }),
      want,
      { ok: false, failure: { kind: "status", status: 429, retryAfter: LM } },
    ],
    ["304", res(304, {}), want, { ok: false, failure: { kind: "status", status: 304 } }],
  ];
  test.each(rows)("%s", (_name, response, expected, result) => {
    expect(checkRangeResponse(response, expected)).toEqual(result);
  });

  test("a status failure without Retry-After has no retryAfter key (exactOptionalPropertyTypes)", () => {
    const result = checkRangeResponse(res(500, {}), want);
    expect(result.ok).toBe(false);
    if (!result.ok) expect("retryAfter" in result.failure).toBe(false);
  });

  test("accepts a real Response", () => {
    const response = new Response("x".repeat(100), {
      status: 206,
      headers: { "content-range": "bytes 100-199/1000", etag: ETAG },
    });
    expect(checkRangeResponse(response, want)).toEqual({ ok: true, length: 100 });
  });
});
