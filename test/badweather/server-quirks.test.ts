import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { bytesOf, sha256Hex } from "../helpers/bytes.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { type RawScript, rangeOf, serveBytes } from "../helpers/raw-origin.ts";
import { rawOrigins } from "../helpers/raw-origins.ts";

// Servers no one here wrote, as they are (issue 21 item 4): each quirk against the real CLI, the exact file as
// the result.
const dirs = tempDirs("dlm-quirks-");
const origin = rawOrigins();

afterAll(async () => {
  await dirs.removeAll();
});

/** Answers a Range whose end runs past the file with `status`; every other request correctly. */
function refusesLongRanges(body: Uint8Array, status: string): RawScript {
  return (request, socket) => {
    const m = /^bytes=\d+-(\d+)$/.exec(request.headers.get("range") ?? "");
    if (m !== null && Number(m[1]) >= body.length) {
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    serveBytes(request, socket, body);
  };
}

describe("a Range past the end of the file", () => {
  const BODY = bytesOf(0, 300_000 - 1);
  for (const status of ["400 Bad Request", "416 Range Not Satisfiable"]) {
    test(`answered ${status}: the probe falls back to one byte and the file arrives exact`, async () => {
      const server = await origin(refusesLongRanges(BODY, status));
      const out = await dirs.fresh();
      const run = await runDlm(["get", server.url("/f.bin"), "-o", "f.bin", "-c", "8", "--quiet"], {
        cwd: out,
      });
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(EXIT.OK);
      expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
      const ranges = server.requests.map((r) => r.headers.get("range"));
      expect(ranges.slice(0, 2)).toEqual(["bytes=0-1048575", "bytes=0-0"]);
    });
  }
});

describe("a 206 from the asked start to the end of the file, whatever end was asked", () => {
  const BODY = bytesOf(0, 6_000_000 - 1);
  /** Bytes the server wrote per request, to see that dlm closed the connections early. */
  const served: number[] = [];
  const superset: RawScript = (request, socket) => {
    const range = rangeOf(request, BODY.length);
    if (range === undefined) return serveBytes(request, socket, BODY);
    const slice = BODY.subarray(range.start);
    socket.write(
      `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${range.start}-${BODY.length - 1}/${BODY.length}\r\nContent-Length: ${slice.length}\r\nConnection: close\r\n\r\n`,
    );
    served.push(slice.length);
    socket.end(slice);
  };

  test("each answer is used for what was asked and the file arrives exact", async () => {
    const server = await origin(superset);
    const out = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        server.url("/f.bin"),
        "-o",
        "f.bin",
        "-c",
        "4",
        "--min-split",
        "1M",
        "--retries",
        "0",
        "--quiet",
      ],
      { cwd: out },
    );
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
    // Several ranges were asked (not one stream), and none was retried: --retries 0 would have failed it.
    const ranged = server.requests.filter((r) => r.headers.get("range") !== undefined);
    expect(ranged.length).toBeGreaterThan(1);
  });
});
