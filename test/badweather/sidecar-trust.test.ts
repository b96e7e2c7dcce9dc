// A sidecar is trusted only if this user made it. A link planted at data, part.N or state.json.tmp is never
// followed (the victim file stays byte for byte as it was); a sidecar writable by group or others, or owned by
// another user (a shared, sticky /tmp), is refused with exit STATE_FILE and one line naming the reason.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, statSync, symlinkSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeStateFile } from "../../src/engine/state-file.ts";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { runDlm, sha256File } from "./harness.ts";

const MiB = 1024 * 1024;
const SIZE = 2 * MiB;
const VICTIM_TEXT = "precious: not dlm's to write\n";
/** uid/gid of `nobody` on Debian. */
const NOBODY = 65534;
const notRoot = process.getuid?.() !== 0 ? "needs root to chown a sidecar to another user" : undefined;
if (notRoot !== undefined) console.log(`sidecar owned by another user: skipped (${notRoot})`);

let origin: Origin;
let dir: string;
/** A sidecar of an interrupted download per storage kind, copied before each case. */
const pristine: Record<string, string> = {};
let url: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-trust-"));
  // Two connections, each cut after 300 kB with no retries: a sidecar with part of the file vouched for.
  url = origin.serve("/t.bin", { size: SIZE, dropAfterBytes: 300_000 });
  for (const storage of ["in-place", "parts"]) {
    const out = join(dir, `make-${storage}.bin`);
    const run = await runDlm(
      ["get", url, "-o", out, "-c", "2", "--retries", "0", "--storage", storage, "--quiet"],
      dir,
    );
    expect(run.code).toBe(EXIT.NETWORK);
    pristine[storage] = `${out}.dlm`;
  }
  origin.update("/t.bin", { dropAfterBytes: undefined });
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

let cases = 0;
/** A fresh copy of an interrupted download's sidecar, and a victim file a planted link would point at. */
async function interrupted(storage: "in-place" | "parts"): Promise<{ out: string; victim: string }> {
  const out = join(dir, `case-${++cases}.bin`);
  await cp(pristine[storage] ?? "", `${out}.dlm`, { recursive: true });
  chmodSync(`${out}.dlm`, 0o700);
  const victim = join(dir, `victim-${cases}.txt`);
  await writeFile(victim, VICTIM_TEXT);
  return { out, victim };
}

/** The one "dlm: ..." line of a run's stderr. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("dlm: "));
  expect(lines.length).toBe(1);
  return lines[0] ?? "";
}

test("a new sidecar is created with mode 0700", async () => {
  const mode = statSync(pristine["in-place"] ?? "").mode & 0o777;
  expect(mode.toString(8)).toBe("700");
});

describe("a planted link is refused, never followed", () => {
  test.each([
    ["in-place", "data"],
    ["parts", "part.0"],
    ["in-place", "state.json.tmp"],
    ["parts", "state.json.tmp"],
  ] as const)("--storage %s: a link at %s", async (storage, name) => {
    const { out, victim } = await interrupted(storage);
    await rm(join(`${out}.dlm`, name), { force: true });
    await symlink(victim, join(`${out}.dlm`, name));
    for (const args of [
      ["resume", out],
      ["get", url, "-o", out],
    ]) {
      const run = await runDlm([...args, "--quiet"], dir);
      expect(run.code).toBe(EXIT.STATE_FILE);
      expect(errorLine(run.stderr)).toBe(
        `dlm: ${out}.dlm: not trusted: ${name} is a symbolic link; remove it, or choose another -o`,
      );
    }
    expect(await readFile(victim, "utf8")).toBe(VICTIM_TEXT);
    expect(lstatSync(join(`${out}.dlm`, name)).isSymbolicLink()).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  test("the state writer replaces a link at state.json.tmp instead of writing through it", async () => {
    const { out, victim } = await interrupted("in-place");
    const sidecar = `${out}.dlm`;
    symlinkSync(victim, join(sidecar, "state.json.tmp"));
    const state = JSON.parse(await readFile(join(sidecar, "state.json"), "utf8"));
    await writeStateFile(sidecar, { ...state, updatedAt: "2030-01-01T00:00:00.000Z" });
    expect(await readFile(victim, "utf8")).toBe(VICTIM_TEXT);
    expect(JSON.parse(await readFile(join(sidecar, "state.json"), "utf8")).updatedAt).toBe(
      "2030-01-01T00:00:00.000Z",
    );
    expect(existsSync(join(sidecar, "state.json.tmp"))).toBe(false);
  });
});

test("a sidecar writable by group is refused", async () => {
  const { out } = await interrupted("in-place");
  chmodSync(`${out}.dlm`, 0o770);
  const run = await runDlm(["resume", out, "--quiet"], dir);
  expect(run.code).toBe(EXIT.STATE_FILE);
  expect(errorLine(run.stderr)).toContain("not trusted: writable by group or others (mode 0770)");
  expect(existsSync(out)).toBe(false);
});

test("a sidecar that is itself a link is refused", async () => {
  const { out } = await interrupted("in-place");
  const elsewhere = join(dir, "elsewhere.dlm");
  await rm(elsewhere, { recursive: true, force: true });
  await cp(`${out}.dlm`, elsewhere, { recursive: true });
  await rm(`${out}.dlm`, { recursive: true });
  await symlink(elsewhere, `${out}.dlm`);
  const run = await runDlm(["resume", out, "--quiet"], dir);
  expect(run.code).toBe(EXIT.STATE_FILE);
  expect(errorLine(run.stderr)).toContain("not trusted: it is a symbolic link");
});

describe.skipIf(notRoot !== undefined)("a sidecar made by another user", () => {
  test("whose state claims every byte done is refused, not turned into the output", async () => {
    const { out } = await interrupted("in-place");
    const sidecar = `${out}.dlm`;
    // What a neighbour would plant: every segment done, over bytes of their choosing.
    const state = JSON.parse(await readFile(join(sidecar, "state.json"), "utf8"));
    state.segments = [{ id: 0, start: 0, end: SIZE - 1, done: SIZE }];
    await writeFile(join(sidecar, "state.json"), JSON.stringify(state));
    await writeFile(join(sidecar, "data"), Buffer.alloc(SIZE, 0x41));
    for (const name of ["", "state.json", "data"]) chownSync(join(sidecar, name), NOBODY, NOBODY);
    chmodSync(sidecar, 0o755);
    for (const args of [
      ["resume", out],
      ["get", url, "-o", out],
    ]) {
      const run = await runDlm([...args, "--quiet"], dir);
      expect(run.code).toBe(EXIT.STATE_FILE);
      expect(errorLine(run.stderr)).toBe(
        `dlm: ${sidecar}: not trusted: owned by uid ${NOBODY}, not by this user (uid 0); remove it, or choose another -o`,
      );
    }
    expect(existsSync(out)).toBe(false);
  });

  test("refused even when its state is empty of progress; after removing it, get starts afresh", async () => {
    const { out } = await interrupted("parts");
    chownSync(`${out}.dlm`, NOBODY, NOBODY);
    const run = await runDlm(["get", url, "-o", out, "--quiet"], dir);
    expect(run.code).toBe(EXIT.STATE_FILE);
    await rm(`${out}.dlm`, { recursive: true });
    const fresh = await runDlm(["get", url, "-o", out, "--quiet"], dir);
    expect(fresh.code).toBe(EXIT.OK);
    expect(await sha256File(out)).toBe(sha256Of(SIZE));
  });
});

test("a trusted sidecar still resumes to the right file", async () => {
  const { out } = await interrupted("parts");
  const run = await runDlm(["resume", out, "--quiet"], dir);
  expect(run.code).toBe(EXIT.OK);
  expect(await sha256File(out)).toBe(sha256Of(SIZE));
});
