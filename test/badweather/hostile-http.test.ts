import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { EXIT } from "../../src/exit-codes.ts";
import { bytesOf, sha256Hex } from "../helpers/bytes.ts";
import { makeCertificate, opensslAvailable } from "../helpers/certificate.ts";
import { jsonLines, listDir, runDlm, tempDirs } from "../helpers/cli.ts";
import { serveBytes } from "../helpers/raw-origin.ts";
import { rawOrigins, serveBody } from "../helpers/raw-origins.ts";

// Servers that misbehave at the HTTP level, written byte by byte (raw TCP), against the real CLI. Each case
// pins down what Bun's fetch reports and what dlm makes of it: never exit 0 with bytes that are not the file.
const BODY = bytesOf(0, 200_000 - 1);
const dirs = tempDirs("dlm-hostile-");
const origin = rawOrigins();

afterAll(async () => {
  await dirs.removeAll();
});

describe("credentials stay with their origin", () => {
  test("-H Authorization and Cookie reach the origin given, never the one a redirect names", async () => {
    const other = await origin(serveBody(BODY));
    const first = await origin((_request, socket) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${other.url("/file.bin")}\r\nContent-Length: 0\r\n\r\n`);
    });
    const out = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        first.url("/file.bin"),
        "-o",
        "f.bin",
        "-c",
        "2",
        "-H",
        "Authorization: Bearer s3cret",
        "-H",
        "Cookie: session=s3cret",
        "--quiet",
      ],
      { cwd: out },
    );
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
    expect(first.requests.length).toBeGreaterThan(0);
    for (const r of first.requests) expect(r.headers.get("authorization")).toBe("Bearer s3cret");
    // The probe (its answer is the file) and any range requests all went to the other origin, none with
    // the credentials.
    expect(other.requests.length).toBeGreaterThanOrEqual(1);
    for (const r of other.requests) {
      expect(r.headers.has("authorization")).toBe(false);
      expect(r.headers.has("cookie")).toBe(false);
    }
  });

  test("a redirect within the same origin keeps them", async () => {
    const same = await origin((request, socket) => {
      if (request.target === "/old") {
        socket.end("HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      serveBytes(request, socket, BODY);
    });
    const out = await dirs.fresh();
    const run = await runDlm(
      ["get", same.url("/old"), "-o", "f.bin", "-c", "2", "-H", "Authorization: Bearer s3cret", "--quiet"],
      { cwd: out },
    );
    expect(run.exitCode).toBe(EXIT.OK);
    for (const r of same.requests) expect(r.headers.get("authorization")).toBe("Bearer s3cret");
  });

  test("user:password in the URL is not sent to another port", async () => {
    const other = await origin(serveBody(BODY));
    const first = await origin((_request, socket) => {
      socket.end(`HTTP/1.1 307 Temporary\r\nLocation: ${other.url("/f")}\r\nContent-Length: 0\r\n\r\n`);
    });
    const out = await dirs.fresh();
    const url = first.url("/f").replace("http://", "http://user:pa55@");
    const run = await runDlm(["get", url, "-o", "f.bin", "--quiet"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(first.requests[0]?.headers.get("authorization")).toBe(`Basic ${btoa("user:pa55")}`);
    for (const r of other.requests) expect(r.headers.has("authorization")).toBe(false);
  });

  test.skipIf(!opensslAvailable())(
    "https → http drops them (clear text), and no SNI is sent for an IP address",
    async () => {
      const certDir = await dirs.fresh();
      const { cert, key } = makeCertificate(certDir, "127.0.0.1", "IP:127.0.0.1");
      const plain = await origin(serveBody(BODY));
      const seen: { servername: string | false | null; authorization: string | undefined }[] = [];
      const tls = createTlsServer(
        { key: readFileSync(key), cert: readFileSync(cert) },
        (socket: TLSSocket) => {
          socket.once("data", (data) => {
            const auth = /\r\nauthorization: ([^\r]*)/i.exec(data.toString("latin1"))?.[1];
            seen.push({ servername: socket.servername, authorization: auth });
            socket.end(`HTTP/1.1 302 Found\r\nLocation: ${plain.url("/f")}\r\nContent-Length: 0\r\n\r\n`);
          });
        },
      );
      await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
      const address = tls.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      try {
        const out = await dirs.fresh();
        const run = await runDlm(
          [
            "get",
            `https://127.0.0.1:${port}/f`,
            "-o",
            "f.bin",
            "-H",
            "Authorization: Bearer s3cret",
            "--quiet",
          ],
          { cwd: out, env: { NODE_EXTRA_CA_CERTS: cert } },
        );
        expect(run.exitCode).toBe(EXIT.OK);
        expect(seen.length).toBeGreaterThan(0);
        for (const s of seen) {
          expect(s.authorization).toBe("Bearer s3cret");
          expect(s.servername).toBe(false);
        }
        for (const r of plain.requests) expect(r.headers.has("authorization")).toBe(false);
      } finally {
        await new Promise<void>((resolve) => tls.close(() => resolve()));
      }
    },
  );

  test("a redirect loop ends at 20 hops with exit 4 and is not retried", async () => {
    const loop = await origin((request, socket) => {
      const n = Number(request.target.slice(1)) || 0;
      socket.end(`HTTP/1.1 302 Found\r\nLocation: /${n + 1}\r\nContent-Length: 0\r\n\r\n`);
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", loop.url("/0"), "-o", "f.bin"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
    expect(run.stderr).toContain("more than 20 redirects");
    expect(loop.requests).toHaveLength(21);
    expect(await listDir(out)).toEqual([]);
  });
});

describe("a cut body is never the end of the file", () => {
  test("Content-Length body cut by a reset: retried, then exit 3, nothing under the name", async () => {
    const cut = await origin((_request, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n`);
      socket.write(BODY.subarray(0, 5000), () => socket.resetAndDestroy());
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", cut.url("/f"), "-o", "f.bin", "--retries", "2"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr).toContain("connection reset");
    expect(existsSync(join(out, "f.bin"))).toBe(false);
    // The probe's answer and at least two retries (an attempt that got further resets the count, and how
    // much of a reset connection's data arrives varies).
    expect(cut.requests.length).toBeGreaterThanOrEqual(3);
  });

  test("chunked body cut mid-chunk: exit 3", async () => {
    const cut = await origin((_request, socket) => {
      socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n");
      socket.write(BODY.subarray(0, 500), () => socket.resetAndDestroy());
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", cut.url("/f"), "-o", "f.bin", "--retries", "1"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(existsSync(join(out, "f.bin"))).toBe(false);
  });

  test("a close-delimited body (no length) is reported unverified; a --checksum judges it", async () => {
    const closeDelimited = await origin((_request, socket) => {
      socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
      socket.write(BODY.subarray(0, 5000), () => socket.resetAndDestroy());
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", closeDelimited.url("/f"), "-o", "f.bin", "--json"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    const result = jsonLines(run.stdout).find((r) => r["type"] === "result");
    expect(result?.["completeness"]).toBe("unverified");
    const plain = await runDlm(["get", closeDelimited.url("/f"), "-o", "g.bin", "--quiet"], { cwd: out });
    expect(plain.stdout).toContain("unverified");
    const judged = await runDlm(
      ["get", closeDelimited.url("/f"), "-o", "h.bin", "--checksum", `sha256:${sha256Hex(BODY)}`],
      { cwd: out },
    );
    expect(judged.exitCode).toBe(EXIT.INTEGRITY);
    expect(existsSync(join(out, "h.bin"))).toBe(false);
  });

  test("Content-Length and chunked together never give exit 0 with wrong bytes", async () => {
    const both = await origin((_request, socket) => {
      socket.end(
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      );
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", both.url("/f"), "-o", "f.bin", "--retries", "1"], { cwd: out });
    if (run.exitCode === EXIT.OK) expect(readFileSync(join(out, "f.bin")).toString()).toBe("abc");
    else expect(existsSync(join(out, "f.bin"))).toBe(false);
  });
});

describe("every wait is bounded by --stall-timeout", () => {
  test("a server that accepts and never answers fails the probe after the stall timeout", async () => {
    const silent = await origin(() => undefined);
    const out = await dirs.fresh();
    const run = await runDlm(
      ["get", silent.url("/f"), "-o", "f.bin", "--stall-timeout", "500ms", "--retries", "1"],
      { cwd: out, timeoutMs: 15_000 },
    );
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr).toContain("no response within 500 ms");
    expect(run.elapsedMs).toBeLessThan(8_000);
  });

  test("a TLS handshake that never completes fails after the stall timeout", async () => {
    const silent = await origin(() => undefined);
    const out = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        `https://127.0.0.1:${silent.port}/f`,
        "-o",
        "f.bin",
        "--stall-timeout",
        "500ms",
        "--retries",
        "1",
      ],
      { cwd: out, timeoutMs: 15_000 },
    );
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr).toContain("no response within 500 ms");
    expect(run.elapsedMs).toBeLessThan(8_000);
  });

  test("a whole-file stream that goes quiet after 5 bytes is aborted and retried, then fails", async () => {
    const quiet = await origin((_request, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n`);
      socket.write(BODY.subarray(0, 5));
    });
    const out = await dirs.fresh();
    const run = await runDlm(
      ["get", quiet.url("/f"), "-o", "f.bin", "--stall-timeout", "500ms", "--retries", "1"],
      { cwd: out, timeoutMs: 15_000 },
    );
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr).toContain("stalled");
    expect(quiet.requests).toHaveLength(2);
    expect(existsSync(join(out, "f.bin"))).toBe(false);
  });
});

describe("heads as servers really send them", () => {
  test("raw UTF-8 in a header does not fail the download", async () => {
    const utf8 = await origin((request, socket) =>
      serveBytes(
        request,
        socket,
        BODY,
        'Content-Disposition: attachment; filename="\u0444\u0430\u0439\u043b.bin"\r\n',
      ),
    );
    // Written as UTF-8 bytes on the wire: node:net encodes the string as UTF-8.
    const out = await dirs.fresh();
    const run = await runDlm(["get", utf8.url("/download"), "--quiet"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    const files = await listDir(out);
    expect(files).toHaveLength(1);
    expect(sha256Hex(readFileSync(join(out, files[0] ?? "")))).toBe(sha256Hex(BODY));
  });

  test("a flood of 1xx interim answers is skipped quickly", async () => {
    const flood = await origin((request, socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n".repeat(20_000));
      serveBytes(request, socket, BODY);
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", flood.url("/f"), "-o", "f.bin", "-c", "1", "--quiet"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
  });

  test("an oversized head is refused with one line, exit 3", async () => {
    const huge = await origin((_request, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(2 << 20)}\r\nContent-Length: 3\r\n\r\nabc`);
    });
    const out = await dirs.fresh();
    const run = await runDlm(["get", huge.url("/f"), "-o", "f.bin", "--retries", "0"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("ResponseHeadersTooLarge");
    expect(await listDir(out)).toEqual([]);
  });
});
