import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createHasher } from "../src/engine/checksum.ts";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Hex } from "./helpers/bytes.ts";
import { jsonLines, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
const dirs = tempDirs("dlm-sums-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

const SIZE = 300_000;
/** The seed the published sums describe; TAMPERED is what a bad mirror serves instead. */
const GOOD = 21;
const TAMPERED = 22;

function digest(
  algorithm: "sha256" | "sha512" | "md5",
  seed = GOOD,
  encoding: "hex" | "base64" = "hex",
): string {
  return new Bun.CryptoHasher(algorithm).update(bytesOf(0, SIZE - 1, seed)).digest(encoding);
}

async function crc32cBase64(seed = GOOD): Promise<string> {
  const hasher = await createHasher("crc32c");
  hasher.update(bytesOf(0, SIZE - 1, seed));
  return Buffer.from(hasher.digestHex(), "hex").toString("base64");
}

/** Serves the file at `/DIR/NAME` (tampered or not) and runs `dlm get URL --json ...args`. */
async function get(
  dir: string,
  name: string,
  args: string[],
  options: { tampered?: boolean; headers?: Record<string, string> } = {},
) {
  const url = origin.serve(`/${dir}/${name}`, {
    size: SIZE,
    seed: options.tampered ? TAMPERED : GOOD,
    headers: options.headers,
  });
  const cwd = await dirs.fresh();
  const run = await runDlm(["get", url, "--json", "-c", "2", ...args], { cwd });
  const last = jsonLines(run.stdout).at(-1) ?? {};
  return { url, cwd, run, last, present: existsSync(join(cwd, name)) };
}

function expectOk(r: Awaited<ReturnType<typeof get>>, source: string) {
  expect({ exit: r.run.exitCode, stderr: r.run.stderr }).toEqual({
    exit: EXIT.OK,
    stderr: expect.any(String),
  });
  expect(r.last["type"]).toBe("result");
  expect((r.last["checksum"] as Record<string, unknown>)["source"]).toBe(source);
}

function expectTampered(r: Awaited<ReturnType<typeof get>>, source: string) {
  expect(r.run.exitCode).toBe(EXIT.INTEGRITY);
  expect(r.run.stderr).toContain("mismatch");
  expect(r.run.stderr).toContain(`from ${source}`);
  expect(r.present).toBe(false);
}

const OTHER = "0".repeat(64);

describe("--checksum-file", () => {
  const lists = {
    sha256sum: () => `${OTHER}  other.iso\n${digest("sha256")}  a.iso\n`,
    "sha512sum (binary mark)": () => `${digest("sha512")} *a.iso\n${"1".repeat(128)} *b.iso\n`,
    "BSD style": () => `SHA256 (b.iso) = ${OTHER}\nSHA256 (a.iso) = ${digest("sha256")}\n`,
    "BSD style md5 (./ path)": () => `MD5 (./a.iso) = ${digest("md5")}\n`,
  };
  for (const [format, text] of Object.entries(lists)) {
    test(`${format}: the line for the file is checked; a tampered file is exit 6`, async () => {
      const dir = `list-${format.replace(/\W+/g, "-")}`;
      const sums = origin.serve(`/${dir}/SUMS`, { size: 0, text: text() });
      expectOk(await get(dir, "a.iso", ["--checksum-file", sums]), sums);
      expectTampered(await get(dir, "a.iso", ["--checksum-file", sums, "--force"], { tampered: true }), sums);
    });
  }

  test("a local PATH, the line picked by -o's name", async () => {
    const cwd = await dirs.fresh();
    const list = join(cwd, "SHA256SUMS");
    await writeFile(list, `${digest("sha256")}  renamed.iso\n`);
    const url = origin.serve("/local/served.iso", { size: SIZE, seed: GOOD });
    const run = await runDlm(["get", url, "-o", "renamed.iso", "--checksum-file", "SHA256SUMS", "--json"], {
      cwd,
    });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(jsonLines(run.stdout).at(-1)?.["checksum"]).toMatchObject({ source: "SHA256SUMS" });
    expect(sha256Hex(await readFile(join(cwd, "renamed.iso")))).toBe(digest("sha256"));
  });

  test("a list without the file's line is exit 6 before any byte is fetched", async () => {
    const sums = origin.serve("/missing/SHA256SUMS", { size: 0, text: `${OTHER}  other.iso\n` });
    origin.resetStats();
    const r = await get("missing", "a.iso", ["--checksum-file", sums]);
    expect(r.run.exitCode).toBe(EXIT.INTEGRITY);
    expect(r.run.stderr).toContain("has no sum for a.iso");
    expect(origin.stats.requests.filter((q) => q.path === "/missing/a.iso")).toEqual([]);
  });

  test("a file: URL is refused (exit 2); both --checksum and --checksum-file is exit 2", async () => {
    const cwd = await dirs.fresh();
    const url = origin.serve("/refused/a.iso", { size: SIZE, seed: GOOD });
    const run = await runDlm(["get", url, "--checksum-file", "file:///etc/passwd"], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(run.stderr).toContain("file:///etc/passwd");
    const both = await runDlm(["get", url, "--checksum-file", "x", "--checksum", `sha256:${OTHER}`], { cwd });
    expect(both.exitCode).toBe(EXIT.USAGE);
  });

  test("-H credentials never reach a sums file on another origin", async () => {
    const seen: (string | null)[] = [];
    const other = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        seen.push(req.headers.get("authorization"));
        return new Response(`${digest("sha256")}  a.iso\n`);
      },
    });
    try {
      const sums = `http://127.0.0.1:${other.port}/SHA256SUMS`;
      const r = await get("creds", "a.iso", ["--checksum-file", sums, "-H", "Authorization: Bearer secret"]);
      expectOk(r, sums);
      expect(seen).toEqual([null]);
    } finally {
      await other.stop(true);
    }
  });
});

describe("--checksum auto", () => {
  test("NAME.sha256 beside the URL is used and named", async () => {
    const sums = origin.serve("/auto1/a.iso.sha256", { size: 0, text: `${digest("sha256")}  a.iso\n` });
    expectOk(await get("auto1", "a.iso", ["--checksum", "auto"]), sums);
    expectTampered(await get("auto1", "a.iso", ["--checksum", "auto", "--force"], { tampered: true }), sums);
  });

  test("without --json it says which it used, at the start and in the result line", async () => {
    const sums = origin.serve("/auto5/a.iso.sha512", { size: 0, text: `${digest("sha512")}  a.iso\n` });
    const url = origin.serve("/auto5/a.iso", { size: SIZE, seed: GOOD });
    const run = await runDlm(["get", url, "--checksum", "auto"], { cwd: await dirs.fresh() });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(run.stderr).toContain(`dlm: expecting sha512 ${digest("sha512")} from ${sums}`);
    expect(run.stdout).toContain(`sha512 OK (from ${sums})`);
  });

  test("a bare digest in NAME.md5 is enough", async () => {
    const sums = origin.serve("/auto2/a.iso.md5", { size: 0, text: `${digest("md5")}\n` });
    expectOk(await get("auto2", "a.iso", ["--checksum", "auto"]), sums);
  });

  test("then SHA512SUMS in the same directory (after SHA256SUMS without the file)", async () => {
    origin.serve("/auto3/SHA256SUMS", { size: 0, text: `${OTHER}  other.iso\n` });
    const sums = origin.serve("/auto3/SHA512SUMS", { size: 0, text: `${digest("sha512")}  a.iso\n` });
    expectOk(await get("auto3", "a.iso", ["--checksum", "auto"]), sums);
    expectTampered(await get("auto3", "a.iso", ["--checksum", "auto", "--force"], { tampered: true }), sums);
  });

  test("nothing published: exit 6 naming the places tried", async () => {
    const r = await get("auto4", "a.iso", ["--checksum", "auto"]);
    expect(r.run.exitCode).toBe(EXIT.INTEGRITY);
    expect(r.run.stderr).toContain("auto4/a.iso.sha256");
    expect(r.run.stderr).toContain("auto4/SHA512SUMS");
    expect(r.present).toBe(false);
  });
});

describe("digest headers (no flag)", () => {
  const cases: [
    string,
    () => Promise<Record<string, string>>,
    () => Promise<Record<string, string>>,
    string,
  ][] = [
    [
      "Repr-Digest sha-256",
      async () => ({ "Repr-Digest": `sha-256=:${digest("sha256", GOOD, "base64")}:` }),
      async () => ({ "Repr-Digest": `sha-256=:${digest("sha256", GOOD, "base64")}:` }),
      "Repr-Digest header",
    ],
    [
      "Repr-Digest sha-512",
      async () => ({ "Repr-Digest": `sha-512=:${digest("sha512", GOOD, "base64")}:` }),
      async () => ({ "Repr-Digest": `sha-512=:${digest("sha512", GOOD, "base64")}:` }),
      "Repr-Digest header",
    ],
    [
      "Digest MD5 (RFC 3230)",
      async () => ({ Digest: `MD5=${digest("md5", GOOD, "base64")}` }),
      async () => ({ Digest: `MD5=${digest("md5", GOOD, "base64")}` }),
      "Digest header",
    ],
    [
      "x-amz-checksum-sha256",
      async () => ({ "x-amz-checksum-sha256": digest("sha256", GOOD, "base64") }),
      async () => ({ "x-amz-checksum-sha256": digest("sha256", GOOD, "base64") }),
      "x-amz-checksum-sha256 header",
    ],
    [
      "x-goog-hash md5",
      async () => ({ "x-goog-hash": `crc32c=AAAAAA==, md5=${digest("md5", GOOD, "base64")}` }),
      async () => ({ "x-goog-hash": `md5=${digest("md5", GOOD, "base64")}` }),
      "x-goog-hash header",
    ],
    [
      "x-goog-hash crc32c",
      async () => ({ "x-goog-hash": `crc32c=${await crc32cBase64()}` }),
      async () => ({ "x-goog-hash": `crc32c=${await crc32cBase64()}` }),
      "x-goog-hash header",
    ],
  ];
  for (const [name, right, wrong, source] of cases) {
    test(`${name}: checked; a file that disagrees is exit 6`, async () => {
      const dir = `hdr-${name.replace(/\W+/g, "-")}`;
      expectOk(await get(dir, "a.iso", [], { headers: await right() }), source);
      expectTampered(
        await get(dir, "a.iso", ["--force"], { tampered: true, headers: await wrong() }),
        source,
      );
    });
  }

  test("a multipart x-amz-checksum-sha256 (BASE64-N) is not a file's sum: ignored", async () => {
    const r = await get("amz-parts", "a.iso", [], {
      headers: { "x-amz-checksum-sha256": `${digest("sha256", 9, "base64")}-3` },
    });
    expect(r.run.exitCode).toBe(EXIT.OK);
    expect(r.last["checksum"]).toBeNull();
  });

  test("--checksum given wins over a header", async () => {
    const r = await get("hdr-explicit", "a.iso", ["--checksum", `sha256:${digest("sha256")}`], {
      headers: { "Repr-Digest": `sha-256=:${digest("sha256", 9, "base64")}:` },
    });
    expectOk(r, "--checksum");
  });
});
