import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseMetalink } from "../src/engine/metalink.ts";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Hex } from "./helpers/bytes.ts";
import { listDir, runDlm, tempDirs } from "./helpers/cli.ts";
import { rawOrigins, serveBody } from "./helpers/raw-origins.ts";

// Metalink 4 (RFC 5854) and 3.0 input (issue 21 item 1): the parser on its own, then `dlm get --metalink`
// against real servers on loopback, the exact file (or the exact refusal) as the result.
const BODY = bytesOf(0, 300_000 - 1);
const SHA = sha256Hex(BODY);
const dirs = tempDirs("dlm-metalink-");
const origin = rawOrigins();

afterAll(async () => {
  await dirs.removeAll();
});

function meta4(files: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metalink xmlns="urn:ietf:params:xml:ns:metalink">${files}</metalink>`;
}

function fileEntry(name: string, urls: readonly string[], hash = SHA, extra = ""): string {
  const list = urls.map((u, i) => `<url priority="${i + 1}" location="de">${u}</url>`).join("");
  return `<file name="${name}"><size>${BODY.length}</size><hash type="sha-256">${hash}</hash>${extra}${list}</file>`;
}

describe("parseMetalink", () => {
  test("Metalink 4: urls by priority (http/https only), the strongest hash, pieces", () => {
    const doc = meta4(
      `<file name="dir/a.iso"><size>5</size><hash type="md5">${"c".repeat(32)}</hash><hash type="sha-256">${"A".repeat(64)}</hash>` +
        `<pieces length="2" type="sha-1"><hash>${"1".repeat(40)}</hash><hash>${"2".repeat(40)}</hash><hash>${"3".repeat(40)}</hash></pieces>` +
        `<url priority="5">http://b.example/a.iso</url><url priority="1" location="se">https://a.example/a.iso</url><url>ftp://c.example/a.iso</url>` +
        `<metaurl mediatype="torrent">http://t.example/a.torrent</metaurl></file>`,
    );
    expect(parseMetalink(doc, "t.meta4")).toEqual([
      {
        name: "dir/a.iso",
        size: 5,
        urls: [
          { url: "https://a.example/a.iso", priority: 1, location: "se" },
          { url: "http://b.example/a.iso", priority: 5, location: undefined },
        ],
        hash: { algorithm: "sha256", hex: "a".repeat(64) },
        pieces: { algorithm: "sha1", length: 2, hashes: ["1".repeat(40), "2".repeat(40), "3".repeat(40)] },
      },
    ]);
  });

  test("Metalink 3.0: verification and resources, preference turned into priority", () => {
    const doc = `<metalink xmlns="http://www.metalinker.org/" version="3.0"><files><file name="c.iso"><verification><hash type="sha256">${"b".repeat(64)}</hash></verification><resources><url type="http" preference="10">http://a/c.iso</url><url type="http" preference="100">http://b/c.iso</url></resources></file></files></metalink>`;
    const [file] = parseMetalink(doc, "v3");
    expect(file?.urls.map((u) => u.url)).toEqual(["http://b/c.iso", "http://a/c.iso"]);
    expect(file?.hash).toEqual({ algorithm: "sha256", hex: "b".repeat(64) });
  });

  const refusals: [string, string, string][] = [
    ["not XML", "<metalink><file", "not well-formed XML"],
    ["another root", "<feed/>", "not a Metalink document"],
    ["no namespace", "<metalink><file name='a'/></metalink>", "not a Metalink 4 or 3.0 document"],
    ["no file", meta4(""), "describes no <file>"],
    ["no http url", meta4("<file name='a'><url>ftp://x/a</url></file>"), 'file "a": no http or https <url>'],
    [
      "a bad size",
      meta4("<file name='a'><size>-1</size><url>http://x/a</url></file>"),
      "is not a byte count",
    ],
    [
      "a short hash",
      meta4("<file name='a'><hash type='sha-256'>abc</hash><url>http://x/a</url></file>"),
      "is not a sha256 digest",
    ],
    [
      "a wrong piece count",
      meta4(
        `<file name='a'><size>10</size><pieces length='4' type='sha-1'><hash>${"1".repeat(40)}</hash></pieces><url>http://x/a</url></file>`,
      ),
      "1 piece hashes of 4 bytes for 10 bytes",
    ],
    [
      "an entity bomb",
      `<!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>${meta4("<file name='&b;'><url>http://x/a</url></file>")}`,
      "not well-formed XML",
    ],
  ];
  for (const [what, doc, message] of refusals) {
    test(`refuses ${what}, naming the document`, () => {
      expect(() => parseMetalink(doc, "x.meta4")).toThrow(message);
      expect(() => parseMetalink(doc, "x.meta4")).toThrow("--metalink: x.meta4: ");
    });
  }
});

describe("dlm get --metalink", () => {
  test("a local Metalink: first url is the main source, the next a mirror, the hash is checked, the name is kept", async () => {
    const main = await origin(serveBody(BODY));
    const mirror = await origin(serveBody(BODY));
    const out = await dirs.fresh();
    writeFileSync(
      join(out, "x.meta4"),
      meta4(fileEntry("sub/dir/image.iso", [main.url("/i"), mirror.url("/i")])),
    );
    const run = await runDlm(["get", "--metalink", "x.meta4", "--json"], { cwd: out });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(EXIT.OK);
    // Only the last part of the name: a Metalink never chooses a directory.
    expect(sha256Hex(readFileSync(join(out, "image.iso")))).toBe(SHA);
    expect(main.requests.length).toBeGreaterThan(0);
    expect(mirror.requests.length).toBeGreaterThan(0);
    expect(run.stdout).toContain(SHA);
  });

  test("a name that climbs out of the directory is not used as a path", async () => {
    const main = await origin(serveBody(BODY));
    const out = await dirs.fresh();
    writeFileSync(join(out, "x.meta4"), meta4(fileEntry("../..", [main.url("/safe.bin")])));
    const run = await runDlm(["get", "--metalink", "x.meta4", "--quiet"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    expect((await listDir(out)).sort()).toEqual(["safe.bin", "x.meta4"]);
  });

  test("a wrong hash in the Metalink: integrity failure, nothing under the final name", async () => {
    const main = await origin(serveBody(BODY));
    const out = await dirs.fresh();
    writeFileSync(join(out, "x.meta4"), meta4(fileEntry("f.bin", [main.url("/f")], "0".repeat(64))));
    const run = await runDlm(["get", "--metalink", "x.meta4", "--quiet"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.INTEGRITY);
    expect(existsSync(join(out, "f.bin"))).toBe(false);
  });

  test("several files: refused with their names, or one chosen with --metalink-file", async () => {
    const main = await origin(serveBody(BODY));
    const out = await dirs.fresh();
    writeFileSync(
      join(out, "x.meta4"),
      meta4(fileEntry("one.bin", [main.url("/1")]) + fileEntry("two.bin", [main.url("/2")])),
    );
    const refused = await runDlm(["get", "--metalink", "x.meta4"], { cwd: out });
    expect(refused.exitCode).toBe(EXIT.USAGE);
    expect(refused.stderr).toContain('2 files ("one.bin", "two.bin")');
    const chosen = await runDlm(["get", "--metalink", "x.meta4", "--metalink-file", "two.bin", "--quiet"], {
      cwd: out,
    });
    expect(chosen.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "two.bin")))).toBe(SHA);
    expect(existsSync(join(out, "one.bin"))).toBe(false);
  });

  test("a Metalink fetched over http: credentials reach its origin, never the file's other origin", async () => {
    const files = await origin(serveBody(BODY));
    const doc = meta4(fileEntry("f.bin", [files.url("/f")]));
    const metaServer = await origin(serveBody(new TextEncoder().encode(doc)));
    const out = await dirs.fresh();
    const run = await runDlm(
      ["get", "--metalink", metaServer.url("/f.meta4"), "-H", "Authorization: Bearer s3cret", "--quiet"],
      { cwd: out },
    );
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(SHA);
    expect(metaServer.requests[0]?.headers.get("authorization")).toBe("Bearer s3cret");
    for (const r of files.requests) expect(r.headers.has("authorization")).toBe(false);
  });

  test("a missing Metalink file is a usage error naming it", async () => {
    const out = await dirs.fresh();
    const run = await runDlm(["get", "--metalink", "nope.meta4"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(run.stderr).toContain("nope.meta4");
  });
});
