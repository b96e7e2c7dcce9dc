import { describe, expect, test } from "bun:test";
import { checksumCandidates, urlBaseName } from "../src/engine/checksum-auto.ts";
import { parseChecksumList, pickEntry } from "../src/engine/checksum-file.ts";
import { digestsFromHeaders } from "../src/engine/digest-headers.ts";
import { isExpiryAnswer } from "../src/engine/link-expiry.ts";
import { differenceOf } from "../src/engine/refresh.ts";
import { splitCommand } from "../src/engine/refresh-cmd.ts";
import type { RemoteFile } from "../src/engine/remote-file.ts";
import { EXIT } from "../src/exit-codes.ts";

const H64 = "ab".repeat(32);
const H128 = "cd".repeat(64);

describe("parseChecksumList", () => {
  test.each([
    ["GNU text", `${H64}  a.iso`, { algorithm: "sha256", hex: H64, name: "a.iso" }],
    ["GNU binary", `${H128} *a.iso`, { algorithm: "sha512", hex: H128, name: "a.iso" }],
    ["BSD", `SHA256 (a.iso) = ${H64}`, { algorithm: "sha256", hex: H64, name: "a.iso" }],
    [
      "BSD, name with spaces and parens",
      `SHA512 (a (1).iso) = ${H128}`,
      { algorithm: "sha512", hex: H128, name: "a (1).iso" },
    ],
    ["escaped GNU name", `\\${H64}  a\\nb.iso`, { algorithm: "sha256", hex: H64, name: "a\nb.iso" }],
    ["bare digest", `${H64.toUpperCase()}`, { algorithm: "sha256", hex: H64, name: "" }],
  ])("%s", (_, line, entry) => {
    expect(parseChecksumList(`# comment\n\n${line}\r\n`)).toEqual([entry as never]);
  });

  test("lines of no known form, a BSD tag whose length disagrees, odd lengths are skipped", () => {
    expect(
      parseChecksumList(`-----BEGIN PGP SIGNED MESSAGE-----\nSHA256 (x) = ${"ab".repeat(16)}\nabc  x\n`),
    ).toEqual([]);
  });

  test("pickEntry: output name first, then the URL's; base names; a lone bare digest", () => {
    const entries = parseChecksumList(`${H64}  ./dir/a.iso\n${"ef".repeat(32)}  b.iso\n`);
    expect(pickEntry(entries, ["b.iso", "a.iso"])?.name).toBe("b.iso");
    expect(pickEntry(entries, ["x.iso", "a.iso"])?.name).toBe("./dir/a.iso");
    expect(pickEntry(entries, ["c.iso"])).toBeUndefined();
    expect(pickEntry(parseChecksumList(H64), ["anything"])?.hex).toBe(H64);
    expect(pickEntry(parseChecksumList(`${H64}  other`), ["anything"])).toBeUndefined();
  });
});

describe("digestsFromHeaders", () => {
  const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
  test.each([
    ["Repr-Digest sha-256", { "repr-digest": `sha-256=:${b64(H64)}:` }, [["sha256", H64, "Repr-Digest"]]],
    [
      "Repr-Digest with an unknown algorithm first",
      { "repr-digest": `unixsum=:AAA=:, sha-512=:${b64(H128)}:` },
      [["sha512", H128, "Repr-Digest"]],
    ],
    ["Repr-Digest without the colons is malformed", { "repr-digest": `sha-256=${b64(H64)}` }, []],
    ["Digest MD5", { digest: `MD5=${b64("00".repeat(16))}` }, [["md5", "00".repeat(16), "Digest"]]],
    ["x-amz full object", { "x-amz-checksum-sha256": b64(H64) }, [["sha256", H64, "x-amz-checksum-sha256"]]],
    ["x-amz multipart", { "x-amz-checksum-sha256": `${b64(H64)}-12` }, []],
    ["x-amz composite type", { "x-amz-checksum-sha256": b64(H64), "x-amz-checksum-type": "COMPOSITE" }, []],
    [
      "x-goog-hash: md5 preferred to crc32c",
      { "x-goog-hash": `crc32c=${b64("01020304")}, md5=${b64("11".repeat(16))}` },
      [
        ["md5", "11".repeat(16), "x-goog-hash"],
        ["crc32c", "01020304", "x-goog-hash"],
      ],
    ],
    ["a digest of the wrong length", { "repr-digest": `sha-256=:${b64("00".repeat(20))}:` }, []],
  ])("%s", (_, headers, expected) => {
    const got = digestsFromHeaders(new Headers(headers as Record<string, string>)).map((d) => [
      d.algorithm,
      d.hex,
      d.header,
    ]);
    expect(got).toEqual(expected as string[][]);
  });
});

describe("isExpiryAnswer", () => {
  test.each([
    [403, "", true],
    [401, "", true],
    [404, "", true],
    [410, "", true],
    [400, "<Error><Message>Request has expired</Message></Error>", true],
    [400, "AuthenticationFailed: Signature not valid in the specified time frame", true],
    [400, "bad range", false],
    [500, "expired", false],
    [416, "", false],
  ])("%d %j → %p", (status, body, expected) => {
    expect(isExpiryAnswer(status, body)).toBe(expected);
  });
});

describe("differenceOf", () => {
  const file = (patch: Partial<RemoteFile>): RemoteFile => ({
    url: "http://x/a",
    totalBytes: 10,
    acceptsRanges: true,
    etag: '"a"',
    lastModified: undefined,
    dispositionName: undefined,
    ...patch,
  });
  test("size, then strong ETags both present; weak or absent ones prove nothing", () => {
    expect(differenceOf(file({}), file({ totalBytes: 11 }))).toBe("size was 10, now 11");
    expect(differenceOf(file({}), file({ etag: '"b"' }))).toBe('ETag was "a", now "b"');
    expect(differenceOf(file({}), file({ etag: 'W/"b"' }))).toBeUndefined();
    expect(differenceOf(file({}), file({ etag: undefined }))).toBeUndefined();
    expect(differenceOf(file({}), file({ url: "http://y/other" }))).toBeUndefined();
  });
});

describe("splitCommand", () => {
  test.each([
    ["mint", ["mint"]],
    ["  mint --id 7 ", ["mint", "--id", "7"]],
    [`mint 'a b' "c \\"d\\"" e\\ f`, ["mint", "a b", 'c "d"', "e f"]],
    ["echo $HOME; rm -rf /", ["echo", "$HOME;", "rm", "-rf", "/"]],
    [`x ''`, ["x", ""]],
  ])("%j", (input, argv) => {
    expect(splitCommand(input)).toEqual(argv);
  });
  test.each(["", "   ", "mint 'open"])("%j is a usage error", (input) => {
    expect(() => splitCommand(input)).toThrow(
      expect.objectContaining({ exitCode: EXIT.USAGE, flag: "--refresh-cmd" }),
    );
  });
});

describe("checksumCandidates", () => {
  test("beside the URL without its query, then the directory's lists", () => {
    expect(checksumCandidates("https://h/rel/v1/a%20b.iso?X-Amz-Signature=1#f")).toEqual([
      "https://h/rel/v1/a%20b.iso.sha256",
      "https://h/rel/v1/a%20b.iso.sha512",
      "https://h/rel/v1/a%20b.iso.md5",
      "https://h/rel/v1/SHA256SUMS",
      "https://h/rel/v1/SHA512SUMS",
    ]);
    expect(checksumCandidates("https://h/dir/")).toEqual([
      "https://h/dir/SHA256SUMS",
      "https://h/dir/SHA512SUMS",
    ]);
    expect(urlBaseName("https://h/rel/a%20b.iso?x=1")).toBe("a b.iso");
  });
});
