import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Hex, sha256Of, writeFileOf } from "./helpers/bytes.ts";
import { BUN_BIN, jsonLines, listDir, MAIN_TS, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Nginx, nginxAvailable, startNginx } from "./helpers/nginx.ts";

const BIG = 64 * 1024 * 1024;
const SLICED = 5_000_011;
let nginx: Nginx | undefined;
const dirs = tempDirs();
const freshDir = dirs.fresh;

/** Hashes a file in 4 MiB reads, so 64 MiB are never held twice. */
async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

// Skipped, not failed, where Debian's nginx-light is not installed (.ci/run installs it); the name says so.
const why = nginxAvailable() ? "" : " (skipped: /usr/sbin/nginx not installed; apt-get install nginx-light)";
describe.skipIf(!nginxAvailable())(`dlm get against nginx${why}`, () => {
  beforeAll(async () => {
    const root = await freshDir();
    await writeFileOf(join(root, "big.bin"), BIG, 21);
    await writeFileOf(join(root, "mid.bin"), SLICED, 22);
    await writeFile(join(root, "empty.bin"), "");
    await writeFileOf(join(root, "limited.bin"), 4 * 1024 * 1024, 23);
    nginx = await startNginx(root);
  });
  afterAll(async () => {
    await nginx?.stop();
    await dirs.removeAll();
  });

  function url(path: string): string {
    if (nginx === undefined) throw new Error("nginx did not start");
    return nginx.url(path);
  }

  // --limit against a real server: the whole download over its 4 connections held to the rate.
  test("holds the whole download to the rate over all its connections, within 10%", async () => {
    const size = 4 * 1024 * 1024;
    const rate = 1024 * 1024;
    const limited = url("/limited.bin");
    const cwd = await freshDir();
    // The rate is the slope of bytes over time between 10% and 95% of the file, from the --json progress
    // records (stamped by their elapsedMs): the first quarter second's burst and the last chunks' unpaid debt
    // (nobody waits for it once the body has ended) stay out of the measure, as does process start-up.
    const child = Bun.spawn(
      [BUN_BIN, MAIN_TS, "get", limited, "-o", "l.bin", "-c", "4", "--limit", "1M", "--json"],
      {
        cwd,
        env: { ...process.env, DLM_LOG: "error" },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        timeout: 30_000,
      },
    );
    const samples: { at: number; bytes: number }[] = [];
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      for (;;) {
        const end = text.indexOf("\n");
        if (end < 0) break;
        const record = JSON.parse(text.slice(0, end)) as Record<string, unknown>;
        text = text.slice(end + 1);
        // Stamped by dlm's own clock (elapsedMs): a test process slow to read its pipe does not skew it.
        if (record["type"] === "progress") {
          samples.push({ at: record["elapsedMs"] as number, bytes: record["bytes"] as number });
        }
        if (record["type"] === "result") expect(record["sha256"]).toBe(sha256Of(size, 23));
      }
    }
    expect(await child.exited).toBe(EXIT.OK);
    // Least squares over the records between 10% and 95%: each record's count moves in whole chunks, and
    // one line through all of them averages that out where two end points would not.
    const points = samples.filter((s) => s.bytes >= 0.1 * size && s.bytes <= 0.95 * size);
    expect(points.length).toBeGreaterThanOrEqual(4);
    const meanAt = points.reduce((sum, p) => sum + p.at, 0) / points.length;
    const meanBytes = points.reduce((sum, p) => sum + p.bytes, 0) / points.length;
    const covariance = points.reduce((sum, p) => sum + (p.at - meanAt) * (p.bytes - meanBytes), 0);
    const variance = points.reduce((sum, p) => sum + (p.at - meanAt) ** 2, 0);
    const measured = (covariance / variance) * 1000;
    expect(measured / rate).toBeGreaterThan(0.9);
    expect(measured / rate).toBeLessThan(1.1);
  });

  test("a 64 MiB file over 8 connections has the right SHA-256", async () => {
    const cwd = await freshDir();
    const run = await runDlm(["get", url("/big.bin"), "-c", "8", "--json"], { cwd, timeoutMs: 50_000 });
    expect(run.exitCode).toBe(EXIT.OK);
    const records = jsonLines(run.stdout);
    expect(records[0]).toMatchObject({ type: "start", connections: 8, ranges: true, total: BIG });
    expect(records.at(-1)).toMatchObject({ type: "result", bytes: BIG, sha256: sha256Of(BIG, 21) });
    expect(await sha256File(join(cwd, "big.bin"))).toBe(sha256Of(BIG, 21));
    expect(await listDir(cwd)).toEqual(["big.bin"]);
  });

  test("a slice from nginx holds exactly those bytes", async () => {
    const cwd = await freshDir();
    const [first, last] = [1_000_003, 4_999_999];
    const args = ["-o", "slice", "--range-start", String(first), "--range-end", String(last), "-c", "4"];
    const run = await runDlm(["get", url("/mid.bin"), ...args, "--min-split", "64K"], { cwd });
    expect(run.exitCode).toBe(EXIT.OK);
    const bytes = new Uint8Array(await readFile(join(cwd, "slice")));
    expect(sha256Hex(bytes)).toBe(sha256Hex(bytesOf(first, last, 22)));
  });

  test("an empty file from nginx (416 to bytes=0-0) is a 0-byte file", async () => {
    const cwd = await freshDir();
    const run = await runDlm(["get", url("/empty.bin")], { cwd });
    expect(run.exitCode).toBe(EXIT.OK);
    expect((await readFile(join(cwd, "empty.bin"))).length).toBe(0);
    expect(run.stdout).toContain(sha256Of(0));
  });

  test("a missing file from nginx exits HTTP_STATUS", async () => {
    const cwd = await freshDir();
    const run = await runDlm(["get", url("/nope.bin")], { cwd });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
    expect(run.stderr).toContain("404");
    expect(await listDir(cwd)).toEqual([]);
  });
});
