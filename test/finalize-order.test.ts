import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finalizeDownload } from "../src/engine/finalize.ts";
import type { PrefixHasher } from "../src/engine/prefix-hasher.ts";
import type { PreparedDownload } from "../src/engine/prepare.ts";
import type { Segment } from "../src/engine/segment.ts";
import { InPlaceSink } from "../src/engine/storage/in-place-sink.ts";

const root = mkdtempSync(join(tmpdir(), "dlm-finalize-order-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The real in-place sink, whose fsync starts only when the test releases it, and says when it returned. */
class HeldSink extends InPlaceSink {
  readonly #release = Promise.withResolvers<void>();
  synced = false;
  release(): void {
    this.#release.resolve();
  }
  override async sync(): Promise<void> {
    await this.#release.promise;
    await super.sync();
    this.synced = true;
  }
}

/** File-system trips on the thread pool: time for a rename that does not wait for the fsync to happen. */
async function aWhile(): Promise<void> {
  for (let i = 0; i < 20; i++) await open(root, "r").then((handle) => handle.close());
}

test("finalize gives the file its name only after the data fsync returned", async () => {
  const dir = mkdtempSync(join(root, "dl-"));
  const sidecar = join(dir, ".out.bin.dlm");
  const output = join(dir, "out.bin");
  mkdirSync(sidecar);
  const sink = new HeldSink(sidecar, 0);
  const bytes = new TextEncoder().encode("durable before it is named");
  const segment: Segment = { id: 0, start: 0, end: bytes.length - 1, done: 0 };
  await sink.open([segment], bytes.length);
  (await sink.writer(segment)).write(bytes);
  segment.done = bytes.length;
  let hashed = false;
  // The digests are not what this test is about: the hash is done at once, so only the fsync holds the name.
  const prefix = {
    finish: async () => {
      hashed = true;
      return { hex: { sha256: "" }, hashedBytes: bytes.length };
    },
  } as unknown as PrefixHasher;
  const prepared = {
    output,
    sidecar,
    mode: "range",
    first: 0,
    last: bytes.length - 1,
    state: {},
    request: { force: false },
  } as unknown as PreparedDownload;

  const finishing = finalizeDownload({ prepared, sink, segments: [segment], prefix });
  let placedEarly = false;
  void finishing.then(() => {
    placedEarly = !sink.synced;
  });
  await aWhile();
  expect(hashed).toBe(true);
  expect(existsSync(output)).toBe(false);
  sink.release();
  const verified = await finishing;
  expect(placedEarly).toBe(false);
  expect(verified.path).toBe(output);
  expect(readFileSync(output)).toEqual(Buffer.from(bytes));
});
