import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrefixHasher } from "../src/engine/prefix-hasher.ts";
import type { Segment } from "../src/engine/segment.ts";
import type { Sink } from "../src/engine/storage/sink.ts";
import { bytesOf, sha256Of } from "./helpers/bytes.ts";

const SIZE = 3 * 2 ** 20 + 5;

/** A finished output on disk, and a PrefixHasher over it (the sink only locates bytes for read-back). */
function hasherFor(path: string, inline: boolean): PrefixHasher {
  const segment: Segment = { id: 0, start: 0, end: SIZE - 1, done: SIZE };
  const sink = { locate: (_s: Segment, offset: number) => ({ path, position: offset }) } as unknown as Sink;
  return new PrefixHasher(
    ["sha256"],
    sink,
    () => [segment],
    () => SIZE,
    0,
    inline,
  );
}

describe("PrefixHasher: small downloads that overlap share one hash thread", () => {
  let dir: string;
  const paths: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dlm-prefix-hasher-"));
    for (const seed of [1, 2, 3, 4]) {
      const path = join(dir, `f${seed}`);
      await writeFile(path, bytesOf(0, SIZE - 1, seed));
      paths.push(path);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("each of four at once gets its own file's digest; the first hashes what it is offered", async () => {
    const [first, ...others] = paths.map((path) => hasherFor(path, true));
    // The first runs on this thread: fed from memory as the bytes arrive, nothing read back.
    first?.offer(0, bytesOf(0, SIZE - 1, 1));
    const digests = await Promise.all([first, ...others].map((h) => h?.finish()));
    expect(digests.map((d) => d?.hex["sha256"])).toEqual([1, 2, 3, 4].map((seed) => sha256Of(SIZE, seed)));
    expect(digests.map((d) => d?.hashedBytes)).toEqual([SIZE, SIZE, SIZE, SIZE]);
  });

  test("a session closed before its digests does not disturb the next ones", async () => {
    const holder = hasherFor(paths[0] as string, true);
    const dropped = hasherFor(paths[1] as string, true);
    dropped.pump();
    dropped.close();
    const next = hasherFor(paths[2] as string, true);
    holder.offer(0, bytesOf(0, SIZE - 1, 1));
    expect((await next.finish()).hex["sha256"]).toBe(sha256Of(SIZE, 3));
    expect((await holder.finish()).hex["sha256"]).toBe(sha256Of(SIZE, 1));
  });

  test("a large download's own thread hashes by read-back", async () => {
    const own = hasherFor(paths[3] as string, false);
    expect((await own.finish()).hex["sha256"]).toBe(sha256Of(SIZE, 4));
  });
});
