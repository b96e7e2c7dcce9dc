// Each fault of the origin helper against the real CLI: the download ends in the right bytes or in the
// documented exit code with a state file that still vouches only for right bytes, and a resume then finishes.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, type OriginFile, startOrigin } from "../helpers/origin.ts";
import { missingOf, readState, runDlm, sha256File, startDlm, until, vouchedBytes } from "./harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Flags every run gets: fast stall detection, no progress lines. */
const FAST = ["--stall-timeout", "500ms", "--quiet"];

let origin: Origin;
let dir: string;
let n = 0;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-faults-"));
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => origin.resetStats());

/** Serves a fresh path and names a fresh output file for it. */
function fresh(file: OriginFile): { path: string; url: string; out: string } {
  n++;
  const path = `/f${n}.bin`;
  return { path, url: origin.serve(path, file), out: join(dir, `out${n}.bin`) };
}

/** Requests for `path` other than the probe (`Range: bytes=0-0`). */
function segmentRequests(path: string) {
  return origin.stats.requests.filter((r) => r.path === path && r.range !== "bytes=0-0");
}

/**
 * True when `range` ("bytes=A-B") continues a segment that started at one of `starts`: A is past the start
 * and at most `cut`, the byte where the origin cut the previous answer.
 */
function isMidSegment(range: string | undefined, starts: readonly number[], cut: number): boolean {
  const first = Number(/^bytes=(\d+)-/.exec(range ?? "")?.[1] ?? -1);
  return starts.some((start) => first > start && first <= start + cut);
}

/** The one `dlm: ...` error line of a run's stderr (log records are JSON lines). */
function errorLine(stderr: string): string {
  return stderr.split("\n").find((l) => l.startsWith("dlm: ")) ?? `(no error line in: ${stderr})`;
}

async function expectComplete(out: string, size: number, seed = 1): Promise<void> {
  expect(await sha256File(out)).toBe(sha256Of(size, seed));
  expect(existsSync(`${out}.dlm`)).toBe(false);
}

/** Hex SHA-256 of every file in the sidecar, to prove a refused resume left them alone. */
async function sidecarDigest(out: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of ["state.json", "data"]) result[name] = await sha256File(`${out}.dlm/${name}`);
  return result;
}

describe("faults end in the right file", () => {
  test("dropped connections continue from the byte where they stopped", async () => {
    // Paced: on an unpaced loopback, bytes pushed past a stolen end and Bun's fetch dropping what it had
    // buffered when a socket is cut (up to ~140 KiB seen) would blur what the drops alone cost.
    const size = 4 * MiB;
    const { path, url, out } = fresh({
      size,
      throttleBytesPerSec: 4 * MiB,
      dropAfterBytes: 300_000,
      dropTimes: 3,
    });
    const run = await runDlm(["get", url, "-o", out, "-c", "2", "--retries", "5", ...FAST], dir);
    expect(run.code).toBe(EXIT.OK);
    await expectComplete(out, size);
    // Bytes in flight when the socket is cut may never arrive, so a retry starts at or before the cut.
    expect(segmentRequests(path).some((r) => isMidSegment(r.range, [0, MiB], 300_000))).toBe(true);
    expect(origin.stats.bytesServed).toBeLessThan(1.1 * size);
  });

  test("a stalled connection is aborted after --stall-timeout and continued", async () => {
    const size = MiB;
    const { path, url, out } = fresh({ size, stallAfterBytes: 200_000, stallTimes: 2 });
    const run = await runDlm(["get", url, "-o", out, "-c", "1", ...FAST], dir);
    expect(run.code).toBe(EXIT.OK);
    await expectComplete(out, size);
    const ranges = segmentRequests(path).map((r) => r.range);
    // A stall sends what it sends, so each retry starts exactly where the silence began.
    expect(ranges).toEqual(["bytes=0-", `bytes=200000-${size - 1}`, `bytes=400000-${size - 1}`]);
    expect(run.ms).toBeGreaterThan(2 * 500);
    expect(origin.stats.bytesServed).toBeLessThan(1.1 * size);
  });

  test("503 with Retry-After: 1 is retried after at least a second each time", async () => {
    const size = 256 * KiB;
    const { path, url, out } = fresh({ size, failStatuses: [503, 503], retryAfter: "1" });
    const run = await runDlm(["get", url, "-o", out, "-c", "1", ...FAST], dir);
    expect(run.code).toBe(EXIT.OK);
    await expectComplete(out, size);
    const seen = origin.stats.requests.filter((r) => r.path === path);
    expect(seen.map((r) => r.status).slice(0, 3)).toEqual([503, 503, 206]);
    for (const i of [1, 2]) {
      const gap = (seen[i]?.at ?? 0) - (seen[i - 1]?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(990);
    }
  });

  test("429 with an HTTP-date Retry-After mid-download waits until that date", async () => {
    const size = MiB;
    const { path, url, out } = fresh({
      size,
      throttleBytesPerSec: 2 * MiB,
      dropAfterBytes: 256 * KiB,
      dropTimes: 1,
    });
    const running = startDlm(["get", url, "-o", out, "-c", "1", ...FAST], dir);
    await until("the first segment request", () => segmentRequests(path).length > 0);
    // HTTP-dates have whole seconds: this one is 2 to 3 s ahead, at least a second after the 429 is sent.
    const retryAfter = new Date(Date.now() + 3000).toUTCString();
    origin.update(path, { failStatuses: [429], retryAfter });
    const run = await running.done;
    expect(run.code).toBe(EXIT.OK);
    await expectComplete(out, size);
    const seen = segmentRequests(path);
    const limited = seen.findIndex((r) => r.status === 429);
    expect(limited).toBeGreaterThan(0);
    const next = seen[limited + 1];
    expect(next?.range).toBe(seen[limited]?.range);
    expect(isMidSegment(next?.range, [0], 256 * KiB)).toBe(true);
    expect((next?.at ?? 0) - (seen[limited]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    // A few ms for the two clocks' rounding: dlm waits until the date, not merely "a while".
    expect(next?.at ?? 0).toBeGreaterThanOrEqual(Date.parse(retryAfter) - 20);
  });

  test("a body shorter than promised is retried from where it ended", async () => {
    const size = MiB;
    const short = 100_000;
    const { path, url, out } = fresh({ size, shortBody: short, throttleBytesPerSec: 4 * MiB });
    const running = startDlm(["get", url, "-o", out, "-c", "1", ...FAST], dir);
    await until("the first segment request", () => segmentRequests(path).length > 0);
    origin.update(path, { shortBody: undefined });
    const run = await running.done;
    expect(run.code).toBe(EXIT.OK);
    await expectComplete(out, size);
    const ranges = segmentRequests(path).map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(isMidSegment(ranges[1], [0], size - short)).toBe(true);
  });
});

describe("faults that end in an error keep a state that resumes", () => {
  test("404 mid-download: HTTP_STATUS naming segment, URL and offset; state kept", async () => {
    const size = MiB;
    const dropAt = 256 * KiB;
    const { path, url, out } = fresh({
      size,
      throttleBytesPerSec: 2 * MiB,
      dropAfterBytes: dropAt,
      dropTimes: 1,
    });
    const running = startDlm(["get", url, "-o", out, "-c", "1", ...FAST], dir);
    await until("the first segment request", () => segmentRequests(path).length > 0);
    origin.update(path, { failStatuses: [404] });
    const run = await running.done;
    expect(run.code).toBe(EXIT.HTTP_STATUS);
    const line = errorLine(run.stderr);
    expect(line).toContain("segment 0");
    expect(line).toContain(url);
    expect(line).toContain("404");
    const done = await vouchedBytes(out);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThanOrEqual(dropAt);
    expect(line).toContain(`offset ${done}`);
    const resumed = await runDlm(["resume", out, ...FAST], dir);
    expect(resumed.code).toBe(EXIT.OK);
    await expectComplete(out, size);
  });

  test("retries spent: HTTP_STATUS with the state saved; get -o later resumes the missing bytes", async () => {
    const size = MiB;
    const { path, url, out } = fresh({
      size,
      throttleBytesPerSec: 2 * MiB,
      dropAfterBytes: 300_000,
      dropTimes: 1,
    });
    const running = startDlm(["get", url, "-o", out, "-c", "1", "--retries", "1", ...FAST], dir);
    await until("the first segment request", () => segmentRequests(path).length > 0);
    origin.update(path, { failStatuses: Array.from({ length: 10 }, () => 503) });
    const run = await running.done;
    expect(run.code).toBe(EXIT.HTTP_STATUS);
    expect(errorLine(run.stderr)).toContain("retries spent");
    const done = await vouchedBytes(out);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThanOrEqual(300_000);
    const missing = missingOf((await readState(out)).segments);
    origin.update(path, { failStatuses: [] });
    origin.resetStats();
    const resumed = await runDlm(["get", url, "-o", out, "-c", "1", "--stall-timeout", "500ms"], dir);
    expect(resumed.code).toBe(EXIT.OK);
    expect(resumed.stderr).toContain("resuming");
    await expectComplete(out, size);
    expect(origin.stats.bytesServed - 1).toBe(missing);
  });

  test("200 instead of 206 mid-way never writes wrong bytes: RANGE_NOT_SUPPORTED, state intact", async () => {
    const size = 2 * MiB;
    // The probe, whose answer is the first segment (-c 1: the whole file), gets 206 cut after 512 KiB;
    // every later request gets the whole file.
    const { path, url, out } = fresh({
      size,
      dropAfterBytes: 512 * KiB,
      dropTimes: 1,
      rangeIgnoredAfterRequests: 1,
    });
    const run = await runDlm(["get", url, "-o", out, "-c", "1", "--retries", "2", ...FAST], dir);
    expect(origin.stats.requests.some((r) => r.path === path && r.status === 200)).toBe(true);
    expect(run.code).toBe(EXIT.RANGE_NOT_SUPPORTED);
    expect(errorLine(run.stderr)).toContain("200");
    const done = await vouchedBytes(out);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThanOrEqual(512 * KiB);
    origin.update(path, { rangeIgnoredAfterRequests: undefined });
    const resumed = await runDlm(["resume", out, ...FAST], dir);
    expect(resumed.code).toBe(EXIT.OK);
    await expectComplete(out, size);
  });

  test("a wrong Content-Range is refused, never written; resume finishes once it is right", async () => {
    const size = MiB;
    const { path, url, out } = fresh({ size, wrongContentRange: true });
    const run = await runDlm(["get", url, "-o", out, "-c", "2", "--retries", "2", ...FAST], dir);
    expect(run.code).toBe(EXIT.NETWORK);
    expect(errorLine(run.stderr)).toContain("Content-Range");
    expect(await vouchedBytes(out)).toBe(0);
    origin.update(path, { wrongContentRange: undefined });
    const resumed = await runDlm(["resume", out, ...FAST], dir);
    expect(resumed.code).toBe(EXIT.OK);
    await expectComplete(out, size);
  });
});

describe("a changed remote file is never mixed in", () => {
  /** Starts a download that stops with NETWORK after 512 KiB, leaving a resumable sidecar. */
  async function interrupted(
    file: Omit<OriginFile, "size">,
  ): Promise<{ path: string; url: string; out: string }> {
    const target = fresh({ size: 2 * MiB, dropAfterBytes: 512 * KiB, dropTimes: 1, ...file });
    const run = await runDlm(
      ["get", target.url, "-o", target.out, "-c", "1", "--retries", "0", ...FAST],
      dir,
    );
    expect(run.code).toBe(EXIT.NETWORK);
    expect(await vouchedBytes(target.out)).toBeGreaterThan(0);
    return target;
  }

  test("ETag change: REMOTE_CHANGED with the sidecar untouched; --restart fetches the new file", async () => {
    const { path, out } = await interrupted({});
    const before = await sidecarDigest(out);
    origin.update(path, { seed: 2, etag: '"v2"' });
    const run = await runDlm(["resume", out, ...FAST], dir);
    expect(run.code).toBe(EXIT.REMOTE_CHANGED);
    expect(errorLine(run.stderr)).toContain("ETag");
    expect(await sidecarDigest(out)).toEqual(before);
    const restarted = await runDlm(["resume", out, "--restart", ...FAST], dir);
    expect(restarted.code).toBe(EXIT.OK);
    await expectComplete(out, 2 * MiB, 2);
  });

  test("Last-Modified change without an ETag: REMOTE_CHANGED, via get -o too", async () => {
    const { path, url, out } = await interrupted({ etag: false });
    const before = await sidecarDigest(out);
    origin.update(path, { lastModified: "Thu, 02 Jan 2031 00:00:00 GMT" });
    for (const args of [
      ["resume", out],
      ["get", url, "-o", out],
    ]) {
      const run = await runDlm([...args, ...FAST], dir);
      expect(run.code).toBe(EXIT.REMOTE_CHANGED);
      expect(errorLine(run.stderr)).toContain("Last-Modified");
    }
    expect(await sidecarDigest(out)).toEqual(before);
  });
});
