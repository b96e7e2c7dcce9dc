import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  byteAt,
  bytesOf,
  fillBytes,
  PATTERN_LENGTH,
  sha256Hex,
  sha256Of,
  writeFileOf,
} from "./helpers/bytes.ts";
import { type Nginx, nginxAvailable, startNginx } from "./helpers/nginx.ts";
import { DEFAULT_LAST_MODIFIED, etagOf, type Origin, startOrigin } from "./helpers/origin.ts";

/** GET (or another method) without compression, so byte counts describe the file. */
function get(url: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { decompress: false, ...init, headers: { "Accept-Encoding": "identity", ...headers } });
}

/** Reads a body to its end or its first error, keeping what arrived. */
async function drain(res: Response): Promise<{ bytes: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  let error: unknown;
  try {
    for await (const part of res.body ?? []) parts.push(part);
  } catch (e) {
    error = e;
  }
  return { bytes: Buffer.concat(parts), error };
}

/** Runs curl; returns its exit code and what `-w` printed. */
async function curl(args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(["curl", "-sS", "-o", "/dev/null", "--max-time", "10", ...args], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const out = await new Response(proc.stdout).text();
  return { code: await proc.exited, out };
}

describe("bytes", () => {
  test("fillBytes, bytesOf and byteAt agree across pattern blocks", () => {
    const start = PATTERN_LENGTH * 3 - 17;
    const viaFill = new Uint8Array(PATTERN_LENGTH + 50);
    fillBytes(viaFill, start, 9);
    const viaBytesOf = bytesOf(start, start + viaFill.length - 1, 9);
    expect(viaBytesOf).toEqual(viaFill);
    for (const i of [0, 16, 17, 18, PATTERN_LENGTH + 49]) expect(viaFill[i]).toBe(byteAt(start + i, 9));
    expect(bytesOf(5, 4).length).toBe(0);
  });

  test("seeds give different content", () => {
    expect(bytesOf(0, 999, 1)).not.toEqual(bytesOf(0, 999, 2));
  });

  test("sha256Of matches hashing bytesOf, across its 4 MiB chunks", () => {
    const size = 4 * 1024 * 1024 + 12_345;
    expect(sha256Of(size, 3)).toBe(sha256Hex(bytesOf(0, size - 1, 3)));
    expect(sha256Of(0)).toBe(sha256Hex(new Uint8Array(0)));
  });
});

describe("origin", () => {
  let origin: Origin;
  const SIZE = 1_000_003;
  beforeAll(async () => {
    origin = await startOrigin();
  });
  afterAll(async () => {
    await origin.close();
  });

  test("full GET carries length, validators and the right bytes", async () => {
    const url = origin.serve("/f.bin", {
      size: SIZE,
      seed: 7,
      contentDisposition: 'attachment; filename="a.bin"',
    });
    expect(url).toBe(origin.url("/f.bin"));
    origin.resetStats();
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(SIZE));
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("etag")).toBe(etagOf({ size: SIZE, seed: 7 }) ?? "missing");
    expect(res.headers.get("last-modified")).toBe(DEFAULT_LAST_MODIFIED);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="a.bin"');
    expect(sha256Hex(new Uint8Array(await res.arrayBuffer()))).toBe(sha256Of(SIZE, 7));
    expect(origin.stats.bytesServed).toBe(SIZE);
    expect(origin.stats.requests).toMatchObject([{ path: "/f.bin", method: "GET", status: 200 }]);
  });

  test("single ranges: a-b, a-, -n, clamped end", async () => {
    const url = origin.serve("/r.bin", { size: SIZE, seed: 7 });
    const cases: [string, number, number][] = [
      ["bytes=100-199", 100, 199],
      [`bytes=${SIZE - 10}-`, SIZE - 10, SIZE - 1],
      ["bytes=-5", SIZE - 5, SIZE - 1],
      [`bytes=${SIZE - 3}-${SIZE + 100}`, SIZE - 3, SIZE - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(url, { Range: range });
      expect(res.status).toBe(206);
      expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/${SIZE}`);
      expect(res.headers.get("content-length")).toBe(String(end - start + 1));
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytesOf(start, end, 7));
    }
  });

  test("unsatisfiable range is 416 with bytes */SIZE", async () => {
    const url = origin.serve("/u.bin", { size: SIZE });
    for (const range of [`bytes=${SIZE}-`, "bytes=-0"]) {
      const res = await get(url, { Range: range });
      await res.arrayBuffer();
      expect(res.status).toBe(416);
      expect(res.headers.get("content-range")).toBe(`bytes */${SIZE}`);
    }
  });

  test("If-Range: match gives 206, mismatch or changed ETag gives 200 full", async () => {
    const url = origin.serve("/i.bin", { size: 1000, etag: '"v1"' });
    const range = { Range: "bytes=10-19" };
    const ok = await get(url, { ...range, "If-Range": '"v1"' });
    expect(ok.status).toBe(206);
    await ok.arrayBuffer();
    const byDate = await get(url, { ...range, "If-Range": DEFAULT_LAST_MODIFIED });
    expect(byDate.status).toBe(206);
    await byDate.arrayBuffer();
    origin.update("/i.bin", { etag: '"v2"' });
    const stale = await get(url, { ...range, "If-Range": '"v1"' });
    expect(stale.status).toBe(200);
    expect(stale.headers.get("etag")).toBe('"v2"');
    expect((await stale.arrayBuffer()).byteLength).toBe(1000);
  });

  test("HEAD has headers and no body", async () => {
    const url = origin.serve("/h.bin", { size: 4321 });
    origin.resetStats();
    const res = await get(url, {}, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("4321");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(origin.stats.bytesServed).toBe(0);
  });

  test("ignoreRange answers 200 full without Accept-Ranges", async () => {
    const url = origin.serve("/ir.bin", { size: 5000, ignoreRange: true });
    const res = await get(url, { Range: "bytes=0-0" });
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBeNull();
    expect((await res.arrayBuffer()).byteLength).toBe(5000);
  });

  test("noContentLength streams chunked, ranges included", async () => {
    const url = origin.serve("/n.bin", { size: 300_000, seed: 2, noContentLength: true });
    const res = await get(url, { Range: "bytes=0-99" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBeNull();
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytesOf(0, 299_999, 2));
  });

  test("redirect chains end at the file", async () => {
    origin.serve("/target.bin", { size: 100 });
    origin.serve("/r2", { size: 0, redirectTo: "/target.bin" });
    const first = origin.serve("/r1", { size: 0, redirectTo: "/r2" });
    const manual = await get(first, {}, { redirect: "manual" });
    expect(manual.status).toBe(302);
    expect(manual.headers.get("location")).toBe("/r2");
    const followed = await get(first);
    expect(followed.status).toBe(200);
    expect(followed.url).toBe(origin.url("/target.bin"));
    expect((await followed.arrayBuffer()).byteLength).toBe(100);
  });

  test("failStatuses are used once each, in order, with Retry-After; status and unknown paths", async () => {
    const url = origin.serve("/fail.bin", { size: 10, failStatuses: [503, 429], retryAfter: "2" });
    const a = await get(url);
    expect([a.status, a.headers.get("retry-after")]).toEqual([503, "2"]);
    const b = await get(url);
    expect([b.status, b.headers.get("retry-after")]).toEqual([429, "2"]);
    expect((await get(url)).status).toBe(200);
    expect((await get(origin.serve("/gone", { size: 10, status: 404 }))).status).toBe(404);
    expect((await get(origin.url("/nothing-here"))).status).toBe(404);
  });

  test("dropAfterBytes truncates the body, dropTimes limits it", async () => {
    const url = origin.serve("/d.bin", { size: 2_000_000, dropAfterBytes: 300_000, dropTimes: 1 });
    origin.resetStats();
    const cut = await drain(await get(url));
    expect(cut.error).toBeDefined();
    expect(cut.bytes.length).toBeLessThanOrEqual(300_000);
    expect(cut.bytes).toEqual(bytesOf(0, cut.bytes.length - 1));
    expect(origin.stats.bytesServed).toBe(300_000);
    const whole = await drain(await get(url));
    expect(whole.error).toBeUndefined();
    expect(whole.bytes.length).toBe(2_000_000);
  });

  test("stallAfterBytes sends that much, then nothing until the client aborts", async () => {
    const url = origin.serve("/s.bin", { size: 1_000_000, stallAfterBytes: 100_000 });
    const abort = new AbortController();
    const reader = (await get(url, {}, { signal: abort.signal })).body!.getReader();
    let got = 0;
    while (got < 100_000) got += (await reader.read()).value?.length ?? 0;
    expect(got).toBe(100_000);
    const next = await Promise.race([reader.read().then(() => "data"), Bun.sleep(300).then(() => "quiet")]);
    expect(next).toBe("quiet");
    abort.abort();
    expect(origin.stats.requests.at(-1)).toMatchObject({ path: "/s.bin", status: 200 });
  });

  test("a client that leaves a throttled body stops its writes", async () => {
    const url = origin.serve("/ta.bin", { size: 4 * 1024 * 1024, throttleBytesPerSec: 256 * 1024 });
    origin.resetStats();
    const abort = new AbortController();
    const reader = (await get(url, {}, { signal: abort.signal })).body!.getReader();
    expect((await reader.read()).value?.length).toBeGreaterThan(0);
    abort.abort();
    // Absence of writes can only be shown over time: after the close has reached the server, nothing grows.
    await Bun.sleep(200);
    const after = origin.stats.bytesServed;
    await Bun.sleep(300);
    expect(origin.stats.bytesServed).toBe(after);
    expect(after).toBeLessThan(256 * 1024);
  });

  test("throttle paces a 256 KiB body at 1 MiB/s to >= ~200 ms", async () => {
    const url = origin.serve("/t.bin", { size: 256 * 1024, throttleBytesPerSec: 1024 * 1024 });
    const began = performance.now();
    const body = new Uint8Array(await (await get(url)).arrayBuffer());
    expect(performance.now() - began).toBeGreaterThanOrEqual(200);
    expect(body).toEqual(bytesOf(0, 256 * 1024 - 1));
  });

  test("wrongContentRange, shortBody and rangeIgnoredAfterRequests", async () => {
    const wrong = await get(origin.serve("/w.bin", { size: 1000, wrongContentRange: true }), {
      Range: "bytes=10-19",
    });
    expect(wrong.headers.get("content-range")).toBe("bytes 11-20/1000");
    expect(new Uint8Array(await wrong.arrayBuffer())).toEqual(bytesOf(11, 20));

    // curl, because Bun's fetch discards a short body's bytes when it reports the early end.
    const shortUrl = origin.serve("/sb.bin", { size: 1000, shortBody: 10 });
    const short = await curl(["-H", "Range: bytes=0-99", "-w", "%{http_code} %{size_download}", shortUrl]);
    expect(short).toEqual({ code: 18, out: "206 90" }); // 18: CURLE_PARTIAL_FILE

    const url = origin.serve("/ri.bin", { size: 1000, rangeIgnoredAfterRequests: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await get(url, { Range: "bytes=0-9" });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([206, 200]);
  });

  test("64 MiB streams with the right SHA-256", async () => {
    const size = 64 * 1024 * 1024;
    const res = await get(origin.serve("/big.bin", { size, seed: 11 }));
    const hasher = new Bun.CryptoHasher("sha256");
    for await (const part of res.body!) hasher.update(part);
    expect(hasher.digest("hex")).toBe(sha256Of(size, 11));
  });
});

describe("nginx", () => {
  let nginx: Nginx | undefined;
  let dir = "";
  const SIZE = 1024 * 1024;
  beforeAll(async () => {
    if (!nginxAvailable()) return;
    dir = await mkdtemp(join(tmpdir(), "dlm-nginx-root-"));
    await writeFileOf(join(dir, "one.bin"), SIZE, 5);
    nginx = await startNginx(dir);
  });
  afterAll(async () => {
    await nginx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test.skipIf(!nginxAvailable())(
    "serves a generated file whole and by range (skips without nginx-light)",
    async () => {
      const url = nginx!.url("/one.bin");
      const whole = await get(url);
      expect(whole.status).toBe(200);
      expect(sha256Hex(new Uint8Array(await whole.arrayBuffer()))).toBe(sha256Of(SIZE, 5));
      const part = await get(url, { Range: "bytes=1000-1999" });
      expect(part.status).toBe(206);
      expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${SIZE}`);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytesOf(1000, 1999, 5));
    },
  );

  test.skipIf(!nginxAvailable())("stop ends nginx (skips without nginx-light)", async () => {
    const second = await startNginx(dir);
    const url = second.url("/one.bin");
    expect((await get(url, {}, { method: "HEAD" })).status).toBe(200);
    await second.stop();
    await expect(get(url)).rejects.toThrow();
  });
});
