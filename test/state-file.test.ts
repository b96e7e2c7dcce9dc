import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type DownloadStateFile,
  readStateFile,
  STATE_VERSION,
  statePath,
  validateState,
  writeStateFile,
} from "../src/engine/state-file.ts";
import { StateFileError } from "../src/errors.ts";
import { EXIT } from "../src/exit-codes.ts";
import { makeTempDir, removeDir } from "./helpers/cli.ts";

const PATH = "/tmp/x.bin.dlm/state.json";

function goodState(): DownloadStateFile {
  return {
    version: STATE_VERSION,
    url: "http://127.0.0.1:8080/x.bin",
    output: "/tmp/x.bin",
    totalBytes: 1000,
    acceptsRanges: true,
    validator: { etag: '"abc"', lastModified: "Wed, 01 Jan 2025 00:00:00 GMT" },
    checksum: { algorithm: "sha256", hex: "ab".repeat(32) },
    storage: "parts",
    segments: [
      { id: 0, start: 0, end: 499, done: 120 },
      { id: 1, start: 500, end: 999, done: 500 },
    ],
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:01.000Z",
  };
}

/** A good state with `edit` applied to a deep copy (edit may mutate it freely). */
function edited(edit: (state: Record<string, unknown>) => void): unknown {
  const state = structuredClone(goodState()) as unknown as Record<string, unknown>;
  edit(state);
  return state;
}

function segmentsOf(state: Record<string, unknown>): Record<string, unknown>[] {
  return state["segments"] as Record<string, unknown>[];
}

function errorOf(json: unknown): StateFileError {
  try {
    validateState(json, PATH);
  } catch (error) {
    if (error instanceof StateFileError) return error;
    throw new Error(`expected a StateFileError, got ${String(error)}`);
  }
  throw new Error("expected validateState to throw");
}

describe("validateState", () => {
  test("accepts a good state, with and without the optional fields", () => {
    expect(validateState(goodState(), PATH)).toEqual(goodState());
    const minimal = edited((s) => {
      delete s["totalBytes"];
      delete s["checksum"];
      s["validator"] = {};
      s["segments"] = [{ id: 0, start: 0, end: 10, done: 0 }];
    });
    expect(validateState(minimal, PATH).totalBytes).toBeUndefined();
    const sliced = edited((s) => {
      s["slice"] = { start: 0, end: 999 };
    });
    expect(validateState(sliced, PATH).slice).toEqual({ start: 0, end: 999 });
    const sourced = edited((s) => {
      s["mirrors"] = [{ given: "https://m.example/x.bin", etag: '"m"', priority: 2, maxConnections: 2 }];
      s["pieces"] = {
        algorithm: "sha1",
        length: 400,
        hashes: ["1".repeat(40), "2".repeat(40), "3".repeat(40)],
      };
    });
    expect(validateState(sourced, PATH).mirrors).toEqual([
      { given: "https://m.example/x.bin", etag: '"m"', priority: 2, maxConnections: 2 },
    ]);
    expect(validateState(sourced, PATH).pieces?.length).toBe(400);
    // A mirror kept as a bare URL reads as one without validators.
    const bare = edited((s) => {
      s["mirrors"] = ["https://m.example/x.bin"];
    });
    expect(validateState(bare, PATH).mirrors).toEqual([{ given: "https://m.example/x.bin" }]);
  });

  // [what is wrong, the field the message must name, the edit]
  const broken: [string, string, (s: Record<string, unknown>) => void][] = [
    ["a future version", "version", (s) => (s["version"] = 2)],
    ["no version", "version", (s) => delete s["version"]],
    ["a URL that is not one", "url", (s) => (s["url"] = "not a url")],
    ["an empty output", "output", (s) => (s["output"] = "")],
    ["a negative size", "totalBytes", (s) => (s["totalBytes"] = -1)],
    ["a fractional size", "totalBytes", (s) => (s["totalBytes"] = 10.5)],
    ["a size as text", "totalBytes", (s) => (s["totalBytes"] = "1000")],
    ["acceptsRanges not boolean", "acceptsRanges", (s) => (s["acceptsRanges"] = "yes")],
    ["an unknown storage", "storage", (s) => (s["storage"] = "disk")],
    ["a null validator", "validator", (s) => (s["validator"] = null)],
    ["a numeric ETag", "validator.etag", (s) => (s["validator"] = { etag: 5 })],
    ["a checksum without hex", "checksum", (s) => (s["checksum"] = { algorithm: "sha256" })],
    ["a null checksum", "checksum", (s) => (s["checksum"] = null)],
    ["an unknown checksum algorithm", "checksum", (s) => (s["checksum"] = { algorithm: "rot13", hex: "ab" })],
    [
      "a checksum that is not hex",
      "checksum",
      (s) => (s["checksum"] = { algorithm: "sha256", hex: "zz".repeat(32) }),
    ],
    [
      "a checksum of the wrong length",
      "checksum",
      (s) => (s["checksum"] = { algorithm: "sha256", hex: "ab" }),
    ],
    ["a backwards slice", "slice", (s) => (s["slice"] = { start: 9, end: 1 })],
    ["a null slice", "slice", (s) => (s["slice"] = null)],
    ["segments not an array", "segments", (s) => (s["segments"] = "all")],
    ["a negative id", "segments[0].id", (s) => (segmentsOf(s)[0] = { id: -1, start: 0, end: 499, done: 0 })],
    [
      "a duplicate id",
      "segments[1].id",
      (s) => (segmentsOf(s)[1] = { id: 0, start: 500, end: 999, done: 0 }),
    ],
    [
      "a fractional start",
      "segments[0].start",
      (s) => (segmentsOf(s)[0] = { id: 0, start: 0.5, end: 499, done: 0 }),
    ],
    [
      "end before start",
      "segments[0].end",
      (s) => (segmentsOf(s)[0] = { id: 0, start: 400, end: 300, done: 0 }),
    ],
    [
      "end past the file",
      "segments[1].end",
      (s) => (segmentsOf(s)[1] = { id: 1, start: 500, end: 1000, done: 0 }),
    ],
    [
      "more done than the segment holds",
      "segments[0].done",
      (s) => (segmentsOf(s)[0] = { id: 0, start: 0, end: 499, done: 501 }),
    ],
    [
      "negative done",
      "segments[1].done",
      (s) => (segmentsOf(s)[1] = { id: 1, start: 500, end: 999, done: -1 }),
    ],
    [
      "a null segment",
      "segments[0].id",
      (s) => (segmentsOf(s)[0] = null as unknown as Record<string, unknown>),
    ],
    [
      "overlapping segments",
      "segments (id 1)",
      (s) => (segmentsOf(s)[1] = { id: 1, start: 499, end: 999, done: 0 }),
    ],
    ["mirrors not an array", "mirrors", (s) => (s["mirrors"] = "https://m.example/")],
    ["a mirror that is not an object", "mirrors[0]", (s) => (s["mirrors"] = [42])],
    ["a bare file:// mirror", "mirrors[0].given", (s) => (s["mirrors"] = ["file:///etc/passwd"])],
    ["a file:// mirror", "mirrors[0].given", (s) => (s["mirrors"] = [{ given: "file:///etc/passwd" }])],
    [
      "a mirror with a numeric ETag",
      "mirrors[0].etag",
      (s) => (s["mirrors"] = [{ given: "http://m/", etag: 1 }]),
    ],
    [
      "a mirror priority of 0",
      "mirrors[0].priority",
      (s) => (s["mirrors"] = [{ given: "http://m/", priority: 0 }]),
    ],
    ["pieces not an object", "pieces", (s) => (s["pieces"] = [])],
    [
      "pieces of an unknown algorithm",
      "pieces.algorithm",
      (s) => (s["pieces"] = { algorithm: "rot13", length: 1, hashes: [] }),
    ],
    [
      "pieces of length 0",
      "pieces.length",
      (s) => (s["pieces"] = { algorithm: "sha1", length: 0, hashes: [] }),
    ],
    [
      "a piece hash that is not hex",
      "pieces.hashes[0]",
      (s) => (s["pieces"] = { algorithm: "sha1", length: 1000, hashes: ["z".repeat(40)] }),
    ],
    [
      "too few piece hashes for the size",
      "pieces.hashes",
      (s) => (s["pieces"] = { algorithm: "sha1", length: 400, hashes: ["1".repeat(40)] }),
    ],
    ["no createdAt", "createdAt", (s) => delete s["createdAt"]],
    ["updatedAt a number", "updatedAt", (s) => (s["updatedAt"] = 0)],
  ];
  test.each(broken)("%s names %p", (_what, field, edit) => {
    const error = errorOf(edited(edit));
    expect(error.message).toStartWith(`${PATH}: ${field}: expected `);
    expect(error.message).not.toContain("\n");
    expect(error.file).toBe(PATH);
    expect(error.exitCode).toBe(EXIT.STATE_FILE);
  });

  test.each([[null], [[]], ["state"], [42]])("a root of %p names (root)", (json) => {
    expect(errorOf(json).message).toStartWith(`${PATH}: (root): expected an object`);
  });
});

describe("writeStateFile / readStateFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir("dlm-state-");
  });
  afterAll(() => removeDir(dir));

  test("a written state reads back equal, atomically and private", async () => {
    const sidecar = join(dir, "round.bin.dlm");
    await mkdir(sidecar);
    await writeStateFile(sidecar, goodState());
    expect(await readStateFile(sidecar)).toEqual(goodState());
    const next = { ...goodState(), segments: [{ id: 0, start: 0, end: 999, done: 999 }] };
    await writeStateFile(sidecar, next);
    expect(await readStateFile(sidecar)).toEqual(next);
    expect(existsSync(`${statePath(sidecar)}.tmp`)).toBe(false);
    expect(statSync(statePath(sidecar)).mode & 0o077).toBe(0);
  });

  test("reads while the download checkpoints (state.json.tmp comes and goes) all succeed", async () => {
    // dlm serve's Update reads the sidecar of a running download: its checkpoint may rename state.json.tmp
    // away between the trust check's listing and its look at each entry.
    const sidecar = join(dir, "busy.bin.dlm");
    await mkdir(sidecar);
    await writeStateFile(sidecar, goodState());
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 5000; i++) await writeStateFile(sidecar, goodState());
    })();
    const failures: string[] = [];
    for (let i = 0; i < 400; i++) {
      await readStateFile(sidecar).catch((error: unknown) => failures.push(String(error)));
    }
    writing = false;
    await writer;
    expect(failures.slice(0, 1)).toEqual([]);
  });

  test("a missing, torn or edited file is a StateFileError naming the file", async () => {
    const sidecar = join(dir, "bad.bin.dlm");
    await mkdir(sidecar);
    const path = statePath(sidecar);
    await expect(readStateFile(sidecar)).rejects.toThrow(`${path}: cannot read`);
    await writeFile(path, '{"version": 1, "url": ');
    await expect(readStateFile(sidecar)).rejects.toThrow(`${path}: not valid JSON`);
    await writeFile(path, JSON.stringify({ ...goodState(), storage: "tape" }));
    await expect(readStateFile(sidecar)).rejects.toThrow(`${path}: storage: expected`);
    await expect(readStateFile(sidecar)).rejects.toBeInstanceOf(StateFileError);
  });
});
