import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Segment } from "../src/engine/segment.ts";
import { createSink } from "../src/engine/storage/create-sink.ts";
import type { StorageKind } from "../src/engine/storage/sink.ts";
import { StorageError } from "../src/errors.ts";
import { bytesOf } from "./helpers/bytes.ts";

/** One suite, run against every storage implementation (they must be interchangeable). */
const KINDS: readonly StorageKind[] = ["in-place", "parts"];

function segmentsOf(size: number, parts: number, base = 0): Segment[] {
  const per = Math.ceil(size / parts);
  const out: Segment[] = [];
  for (let i = 0, start = base; start < base + size; i++, start += per) {
    out.push({ id: i, start, end: Math.min(base + size, start + per) - 1, done: 0 });
  }
  return out;
}

async function writeAll(kind: StorageKind, dir: string, segments: Segment[], base: number, seed: number) {
  const sink = createSink(kind, dir, base);
  const size = segments.reduce((n, s) => n + s.end - s.start + 1, 0);
  await sink.open(segments, size);
  // Write in reverse order and in uneven chunks: offsets, not arrival order, must decide placement.
  for (const segment of [...segments].reverse()) {
    const writer = await sink.writer(segment);
    const bytes = bytesOf(segment.start, segment.end, seed);
    for (let at = 0; at < bytes.length; at += 777) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + 777));
      await writer.write(chunk);
      segment.done += chunk.length;
    }
    await writer.close();
  }
  return sink;
}

for (const kind of KINDS) {
  describe(`storage: ${kind}`, () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), `dlm-storage-${kind}-`));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    test("a link planted where storage writes is never followed", async () => {
      const victim = join(dir, "victim.txt");
      writeFileSync(victim, "precious");
      const segments = segmentsOf(10_000, 1);
      symlinkSync(victim, join(dir, kind === "parts" ? "part.0" : "data"));
      const sink = createSink(kind, dir, 0);
      const failure = await (async () => {
        await sink.open(segments, 10_000);
        const writer = await sink.writer(segments[0] as Segment);
        await writer.write(bytesOf(0, 9_999, 1));
        await writer.close();
      })().catch((error: unknown) => error);
      await sink.close();
      expect(failure).toBeInstanceOf(StorageError);
      expect((failure as StorageError).message).toContain("symbolic link");
      expect(readFileSync(victim, "utf8")).toBe("precious");
    });

    test("segments written out of order complete into the exact bytes", async () => {
      const segments = segmentsOf(100_003, 7);
      const sink = await writeAll(kind, dir, segments, 0, 9);
      const path = await sink.complete(segments);
      expect(new Uint8Array(readFileSync(path))).toEqual(bytesOf(0, 100_002, 9));
    });

    test("a slice starting at a non-zero offset holds only that slice", async () => {
      const segments = segmentsOf(5_000, 3, 1_000_000);
      const sink = await writeAll(kind, dir, segments, 1_000_000, 4);
      const path = await sink.complete(segments);
      expect(statSync(path).size).toBe(5_000);
      expect(new Uint8Array(readFileSync(path))).toEqual(bytesOf(1_000_000, 1_004_999, 4));
    });

    test("locate points at readable bytes of each segment", async () => {
      const segments = segmentsOf(50_000, 4);
      const sink = await writeAll(kind, dir, segments, 0, 2);
      for (const segment of segments) {
        const offset = segment.start + 10;
        const { path, position } = sink.locate(segment, offset);
        const byte = readFileSync(path).subarray(position, position + 1)[0];
        expect(byte).toBe(bytesOf(offset, offset, 2)[0]!);
        expect(await sink.storedBytes(segment)).toBe(segment.end - segment.start + 1);
      }
      await sink.close();
    });

    test("reopening trusts no more than the state vouches for", async () => {
      const segments = segmentsOf(40_000, 2);
      const sink = await writeAll(kind, dir, segments, 0, 3);
      await sink.close();
      // The state file says fewer bytes were durable than are on disk: resume continues from there.
      const resumed = segments.map((s) => ({ ...s, done: 1_000 }));
      const again = createSink(kind, dir, 0);
      await again.open(resumed, 40_000);
      expect(resumed.map((s) => s.done)).toEqual([1_000, 1_000]);
      for (const segment of resumed) {
        const writer = await again.writer(segment);
        await writer.write(bytesOf(segment.start + segment.done, segment.end, 3));
        segment.done = segment.end - segment.start + 1;
        await writer.close();
      }
      const path = await again.complete(resumed);
      expect(new Uint8Array(readFileSync(path))).toEqual(bytesOf(0, 39_999, 3));
    });

    test("missing data on disk vouches for nothing", async () => {
      const segments = segmentsOf(10_000, 2).map((s) => ({ ...s, done: 5_000 }));
      const sink = createSink(kind, dir, 0);
      await sink.open(segments, 10_000);
      expect(segments.map((s) => s.done)).toEqual([0, 0]);
      await sink.close();
    });

    test("sync makes written bytes durable without closing the writer", async () => {
      const [segment] = segmentsOf(4_096, 1);
      const sink = createSink(kind, dir, 0);
      await sink.open([segment!], 4_096);
      const writer = await sink.writer(segment!);
      await writer.write(bytesOf(0, 2_047, 1));
      await sink.sync();
      expect(writer.readableBytes).toBe(2_048);
      const { path } = sink.locate(segment!, 0);
      expect(new Uint8Array(readFileSync(path).subarray(0, 2_048))).toEqual(bytesOf(0, 2_047, 1));
      await writer.close();
      await sink.close();
    });
  });
}

test("a part file longer than the state says is cut back on open", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dlm-parts-cut-"));
  try {
    writeFileSync(join(dir, "part.0"), bytesOf(0, 999, 1));
    const segment: Segment = { id: 0, start: 0, end: 1_999, done: 600 };
    await createSink("parts", dir, 0).open([segment], 2_000);
    expect(statSync(join(dir, "part.0")).size).toBe(600);
    expect(segment.done).toBe(600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
