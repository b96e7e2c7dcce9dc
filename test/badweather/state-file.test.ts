// A state file cut short, edited or from another version: `dlm resume` (and `dlm get -o`) exit STATE_FILE
// naming the field, and leave every file of the sidecar byte for byte as it was.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { runDlm, type SavedSegment, sha256File } from "./harness.ts";

const MiB = 1024 * 1024;
const SIZE = 2 * MiB;

let origin: Origin;
let dir: string;
let url: string;
let out: string;
/** A copy of the sidecar of an interrupted download, restored before each case. */
let pristine: string;
let pristineState: Record<string, unknown> & { segments: SavedSegment[] };

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-state-"));
  url = origin.serve("/s.bin", { size: SIZE, dropAfterBytes: 300_000, dropTimes: 2 });
  out = join(dir, "s.bin");
  const run = await runDlm(["get", url, "-o", out, "-c", "2", "--retries", "0", "--quiet"], dir);
  expect(run.code).toBe(EXIT.NETWORK);
  pristine = join(dir, "pristine.dlm");
  await cp(`${out}.dlm`, pristine, { recursive: true });
  pristineState = JSON.parse(await readFile(join(pristine, "state.json"), "utf8"));
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** Name -> SHA-256 of every file in the sidecar. */
async function snapshot(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of (await readdir(`${out}.dlm`)).sort())
    result[name] = await sha256File(join(`${out}.dlm`, name));
  return result;
}

/** Restores the pristine sidecar, then writes `text` as its state.json. */
async function withState(text: string): Promise<void> {
  await rm(`${out}.dlm`, { recursive: true, force: true });
  await cp(pristine, `${out}.dlm`, { recursive: true });
  await writeFile(join(`${out}.dlm`, "state.json"), text);
}

/** The pristine state with `edit` applied to a deep copy, as JSON text. */
function edited(edit: (state: typeof pristineState) => void): string {
  const state = structuredClone(pristineState);
  edit(state);
  return JSON.stringify(state, undefined, 2);
}

function first(state: typeof pristineState): SavedSegment {
  const segment = state.segments[0];
  if (segment === undefined) throw new Error("the interrupted download left no segments");
  return segment;
}

const cases: { name: string; text: () => string; field: string }[] = [
  { name: "cut short", text: () => JSON.stringify(pristineState).slice(0, 40), field: "not valid JSON" },
  { name: "empty", text: () => "", field: "not valid JSON" },
  { name: "not JSON at all", text: () => "segments: all of them\n", field: "not valid JSON" },
  {
    name: "unknown version 99",
    text: () => edited((s) => Object.assign(s, { version: 99 })),
    field: "version",
  },
  { name: "no url", text: () => edited((s) => Object.assign(s, { url: undefined })), field: "url" },
  {
    name: "done larger than the segment",
    text: () =>
      edited((s) => {
        const seg = first(s);
        seg.done = seg.end - seg.start + 2;
      }),
    field: "segments[0].done",
  },
  {
    name: "negative done",
    text: () => edited((s) => Object.assign(first(s), { done: -1 })),
    field: "segments[0].done",
  },
  {
    name: "end past the file",
    text: () => edited((s) => Object.assign(first(s), { end: SIZE })),
    field: "segments[0].end",
  },
  {
    name: "overlapping segments",
    text: () => edited((s) => s.segments.push({ ...first(s), id: 99, done: 0 })),
    field: "segments",
  },
  {
    name: "a segment removed (a gap nobody would fetch)",
    text: () => edited((s) => s.segments.pop()),
    field: "segments",
  },
  {
    name: "a segment cut short at its end",
    text: () => edited((s) => Object.assign(first(s), { end: first(s).end - 1, done: 0 })),
    field: "segments",
  },
  {
    name: "segments not a list",
    text: () => edited((s) => Object.assign(s, { segments: { 0: first(s) } })),
    field: "segments",
  },
];

describe("a broken state file is refused and nothing is touched", () => {
  for (const c of cases) {
    test(c.name, async () => {
      await withState(c.text());
      const before = await snapshot();
      const run = await runDlm(["resume", out, "--quiet"], dir);
      expect(run.code).toBe(EXIT.STATE_FILE);
      const line = run.stderr.split("\n").find((l) => l.startsWith("dlm: ")) ?? run.stderr;
      expect(line).toContain("state.json");
      expect(line).toContain(c.field);
      expect(await snapshot()).toEqual(before);
    });
  }

  test("get -o on a broken state file is refused the same way", async () => {
    await withState(edited((s) => Object.assign(s, { version: 99 })));
    const before = await snapshot();
    const run = await runDlm(["get", url, "-o", out, "--quiet"], dir);
    expect(run.code).toBe(EXIT.STATE_FILE);
    expect(run.stderr).toContain("version");
    expect(await snapshot()).toEqual(before);
  });

  test("the untouched sidecar still resumes to the right file", async () => {
    await withState(JSON.stringify(pristineState));
    const run = await runDlm(["resume", out, "--quiet"], dir);
    expect(run.code).toBe(EXIT.OK);
    expect(await sha256File(out)).toBe(sha256Of(SIZE));
  });
});

describe("a sidecar stopped before its first checkpoint", () => {
  // A fresh download writes no state until its first checkpoint (nothing is vouched for before): a kill -9
  // in that window leaves FILE.dlm/ without state.json.
  test("resume says to start again; get -o starts over and finishes", async () => {
    const early = join(dir, "early.bin");
    await mkdir(`${early}.dlm`, { mode: 0o700 });
    await writeFile(join(`${early}.dlm`, "data"), "partial");
    const resumed = await runDlm(["resume", early, "--quiet"], dir);
    expect(resumed.code).toBe(EXIT.STATE_FILE);
    expect(resumed.stderr).toContain("no saved state yet");
    expect(resumed.stderr).toContain(`dlm get URL -o ${early}`);
    const again = await runDlm(["get", url, "-o", early, "--quiet"], dir);
    expect(again.code).toBe(EXIT.OK);
    expect(await sha256File(early)).toBe(sha256Of(SIZE));
  });
});
