import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PieceHashes } from "../src/engine/piece-hashes.ts";
import { coveredPieces } from "../src/engine/piece-verifier.ts";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Hex } from "./helpers/bytes.ts";
import { runDlm, tempDirs } from "./helpers/cli.ts";
import { type RawOrigin, type RawScript, serveBytes } from "./helpers/raw-origin.ts";
import { rawOrigins, serveBody } from "./helpers/raw-origins.ts";

// Piece hashes (issue 21 item 3): pieces are checked as they complete, a bad one is fetched again from
// another source and written over the bad bytes before the file gets its name. Real servers on loopback,
// one of them corrupting; the exact file (or the exact refusal) is the result.
const SIZE = 3_000_000;
const PIECE = 256 * 1024;
const BODY = bytesOf(0, SIZE - 1);
const SHA = sha256Hex(BODY);
const HASHES = Array.from({ length: Math.ceil(SIZE / PIECE) }, (_, i) =>
  sha256Hex(BODY.subarray(i * PIECE, Math.min((i + 1) * PIECE, SIZE))),
);
const BAD_OFFSET = 3 * PIECE + 1000;
const dirs = tempDirs("dlm-pieces-");
const origin = rawOrigins();

afterAll(async () => {
  await dirs.removeAll();
});

/** The file with one byte flipped in piece 3 (for the first `times` answers that carry it). */
function corrupting(times = Number.POSITIVE_INFINITY): RawScript {
  const bad = BODY.slice();
  bad[BAD_OFFSET] = (bad[BAD_OFFSET] ?? 0) ^ 0xff;
  let served = 0;
  return (request, socket) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
    const start = Number(m?.[1] ?? 0);
    const end = m?.[2] === undefined || m[2] === "" ? SIZE - 1 : Number(m[2]);
    const carries = start <= BAD_OFFSET && BAD_OFFSET <= end;
    if (carries && served < times) {
      served++;
      return serveBytes(request, socket, bad);
    }
    serveBytes(request, socket, BODY);
  };
}

function metalinkWith(urls: readonly string[], hash = SHA): string {
  const pieces = HASHES.map((h) => `<hash>${h}</hash>`).join("");
  const list = urls.map((u, i) => `<url priority="${i + 1}">${u}</url>`).join("");
  return `<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="f.bin"><size>${SIZE}</size><hash type="sha-256">${hash}</hash><pieces length="${PIECE}" type="sha-256">${pieces}</pieces>${list}</file></metalink>`;
}

const ARGS = ["-c", "4", "--min-split", "512K", "--quiet"];

describe("coveredPieces", () => {
  const pieces: PieceHashes = { algorithm: "sha256", length: 10, hashes: ["a", "b", "c", "d"] };
  const rows: [string, number, number, { start: number; end: number }[], number[]][] = [
    ["nothing readable", 0, 34, [], []],
    ["one whole piece", 0, 34, [{ start: 0, end: 9 }], [0]],
    ["a piece short by a byte", 0, 34, [{ start: 0, end: 8 }], []],
    [
      "adjacent ranges join",
      0,
      34,
      [
        { start: 0, end: 14 },
        { start: 15, end: 29 },
      ],
      [0, 1, 2],
    ],
    ["the short last piece", 0, 34, [{ start: 30, end: 34 }], [3]],
    ["pieces cut by the slice are never checkable", 5, 24, [{ start: 5, end: 24 }], [1]],
    ["an empty range (no bytes yet)", 0, 34, [{ start: 10, end: 9 }], []],
  ];
  for (const [what, first, last, ranges, expected] of rows) {
    test(what, () => expect(coveredPieces(pieces, 35, first, last, ranges)).toEqual(expected));
  }
});

describe("a corrupting source with piece hashes", () => {
  test.each(["in-place", "parts"])(
    "the bad piece is fetched again from the other source; the exact file, the bad source named (--storage %s)",
    async (storage) => {
      const bad = await origin(corrupting());
      const good = await origin(serveBody(BODY));
      const out = await dirs.fresh();
      writeFileSync(join(out, "x.meta4"), metalinkWith([bad.url("/f.bin"), good.url("/f.bin")]));
      const run = await runDlm(["get", "--metalink", "x.meta4", "--storage", storage, ...ARGS], { cwd: out });
      expect(run.exitCode).toBe(EXIT.OK);
      expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(SHA);
      expect(run.stderr).toContain("piece 3");
      expect(run.stderr).toContain(bad.url("/f.bin"));
      // Piece 3 alone was asked again, from the good source.
      const pieceRange = `bytes=${3 * PIECE}-${4 * PIECE - 1}`;
      expect(good.requests.some((r) => r.headers.get("range") === pieceRange)).toBe(true);
    },
  );

  test("a corruption in transit on the only source: asked again from it, the exact file", async () => {
    const flaky = await origin(corrupting(1));
    const out = await dirs.fresh();
    writeFileSync(join(out, "x.meta4"), metalinkWith([flaky.url("/f.bin")]));
    const run = await runDlm(["get", "--metalink", "x.meta4", ...ARGS], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(SHA);
  });

  test("every source corrupts: integrity failure naming the piece, nothing under the final name", async () => {
    const one = await origin(corrupting());
    const two = await origin(corrupting());
    const out = await dirs.fresh();
    writeFileSync(join(out, "x.meta4"), metalinkWith([one.url("/f.bin"), two.url("/f.bin")]));
    const run = await runDlm(["get", "--metalink", "x.meta4", ...ARGS], { cwd: out });
    expect(run.exitCode).toBe(EXIT.INTEGRITY);
    expect(run.stderr).toContain(
      `piece 3 (bytes ${3 * PIECE}-${4 * PIECE - 1}) failed its check from every source`,
    );
    expect(existsSync(join(out, "f.bin"))).toBe(false);
  });
});

/** `dlm get MAIN --mirror MIRROR --checksum sha256:SHA` (no piece hashes) into a fresh directory. */
async function getWithChecksum(main: RawOrigin, mirror: RawOrigin) {
  const out = await dirs.fresh();
  const run = await runDlm(
    [
      "get",
      main.url("/f.bin"),
      "--mirror",
      mirror.url("/f.bin"),
      "--checksum",
      `sha256:${SHA}`,
      "-o",
      "f.bin",
      ...ARGS,
    ],
    { cwd: out },
  );
  return { out, run };
}

describe("a corrupting source without piece hashes, the whole-file hash known", () => {
  test("its bytes are fetched again from the other source; the exact file, the bad source named", async () => {
    const bad = await origin(corrupting());
    const good = await origin(serveBody(BODY));
    const { out, run } = await getWithChecksum(bad, good);
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(SHA);
    const named = run.stderr.split("\n").find((line) => line.includes("served wrong bytes"));
    expect(named).toContain(bad.url("/f.bin"));
  });

  test("every source corrupts: integrity failure, nothing under the final name", async () => {
    const one = await origin(corrupting());
    const two = await origin(corrupting());
    const { out, run } = await getWithChecksum(one, two);
    expect(run.exitCode).toBe(EXIT.INTEGRITY);
    expect(run.stderr).toContain("sha256 mismatch");
    expect(existsSync(join(out, "f.bin"))).toBe(false);
  });
});
