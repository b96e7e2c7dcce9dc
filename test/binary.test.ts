// The single executable `bun run build` writes, run as a user would: from a directory outside the checkout,
// against nginx on loopback. It must carry everything it loads at run time (hash worker, hash-wasm, the
// dashboard) and ignore a .env or bunfig.toml where it runs. .ci/run builds dist/dlm once and passes it in
// DLM_BINARY; without it this file builds its own copy into a temp dir (a few seconds).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "hash-wasm";
import packageJson from "../package.json" with { type: "json" };
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Of, writeFileOf } from "./helpers/bytes.ts";
import { BUN_BIN, REPO_ROOT, runCommand, tempDirs } from "./helpers/cli.ts";
import { type Nginx, nginxAvailable, startNginx } from "./helpers/nginx.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// Over INLINE_HASH_MAX_BYTES (16 MiB), so the hash runs on the worker thread the binary must carry.
const SIZE = 17_000_017;
const dirs = tempDirs("dlm-binary-");
let binary: string;
let work: string;
let nginx: Nginx | undefined;
let origin: Origin;

/** Runs `command` in `cwd` (stdin closed, output captured), bounded by `timeoutMs`. */
function run(command: readonly string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 30_000) {
  return runCommand(command, cwd, { env, timeoutMs });
}

beforeAll(async () => {
  const given = process.env["DLM_BINARY"];
  if (given !== undefined && given !== "") {
    binary = given;
  } else {
    binary = join(await dirs.fresh(), "dlm");
    const built = await run([BUN_BIN, "run", "--silent", "build", binary], REPO_ROOT, {}, 120_000);
    if (built.exitCode !== 0) throw new Error(`bun run build failed: ${built.stderr}`);
  }
  // The user's directory: outside the checkout, with a .env and a bunfig.toml a binary must not pick up
  // (the .env's DLM_LOG would be a usage error; the preload would leave a marker file).
  work = await dirs.fresh();
  await writeFile(join(work, ".env"), "DLM_LOG=not-a-level\n");
  await writeFile(
    join(work, "preload.ts"),
    `await Bun.write(${JSON.stringify(join(work, "PRELOADED"))}, "x");\n`,
  );
  await writeFile(join(work, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  origin = await startOrigin();
  if (nginxAvailable()) {
    const root = await dirs.fresh();
    await writeFileOf(join(root, "file.bin"), SIZE, 41);
    nginx = await startNginx(root);
  }
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  await origin.close();
  await dirs.removeAll();
});

test("dist/dlm --version prints package.json's version", async () => {
  const r = await run([binary, "--version"], work);
  expect(r.exitCode).toBe(EXIT.OK);
  expect(r.stdout.trim()).toBe(packageJson.version);
});

const why = nginxAvailable() ? "" : " (skipped: /usr/sbin/nginx not installed; apt-get install nginx-light)";
describe.skipIf(!nginxAvailable())(`the binary against nginx${why}`, () => {
  test("downloads to a relative path in the user's directory, SHA-256 checked; no .env or bunfig.toml loaded", async () => {
    const url = nginx?.url("/file.bin") ?? "";
    const sha = sha256Of(SIZE, 41);
    const r = await run(
      [binary, "get", url, "-o", "out/file.bin", "--checksum", `sha256:${sha}`, "--quiet"],
      work,
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.stdout).toContain("sha256 OK");
    const hasher = new Bun.CryptoHasher("sha256");
    hasher.update(await Bun.file(join(work, "out", "file.bin")).arrayBuffer());
    expect(hasher.digest("hex")).toBe(sha);
    expect(existsSync(join(work, "PRELOADED"))).toBe(false);
  });

  test("hash-wasm's algorithms are inside (blake3 on the hash worker thread)", async () => {
    const url = nginx?.url("/file.bin") ?? "";
    const digest = await blake3(bytesOf(0, SIZE - 1, 41));
    const r = await run(
      [binary, "get", url, "-o", "b3.bin", "--checksum", `blake3:${digest}`, "--quiet"],
      work,
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.stdout).toContain("blake3 OK");
  });
});

test("the dashboard is inside: served by a binary started with --listen", async () => {
  const url = origin.serve("/slow.bin", { size: 4 << 20, throttleBytesPerSec: 256 * 1024 });
  const child = Bun.spawn([binary, "get", url, "-o", "slow.bin", "--listen", "0", "--json"], {
    cwd: work,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const stderr = new Response(child.stderr).text();
  let control: { http: string } | undefined;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of child.stdout) {
    buffered += decoder.decode(chunk, { stream: true });
    const line = buffered.split("\n").find((l) => l.includes('"type":"control"'));
    if (line !== undefined) {
      control = JSON.parse(line) as { http: string };
      break;
    }
  }
  if (control === undefined) throw new Error(`no control line; stderr: ${await stderr}`);
  const page = await (await fetch(`${control.http}/`)).text();
  const script = await fetch(`${control.http}/dashboard.js`);
  child.kill("SIGINT");
  expect(await child.exited).toBe(EXIT.INTERRUPTED);
  expect(page).toContain('<script type="module" src="/dashboard.js">');
  expect(script.status).toBe(200);
  expect((await script.text()).length).toBeGreaterThan(10_000);
});

test("the manager's dashboard is inside: served at / by the binary's dlm serve", async () => {
  const home = await dirs.fresh();
  const child = Bun.spawn([binary, "serve", "--json"], {
    cwd: work,
    env: { ...process.env, DLM_HOME: home },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const stderr = new Response(child.stderr).text();
  let serve: { http: string; dashboard: string } | undefined;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of child.stdout) {
    buffered += decoder.decode(chunk, { stream: true });
    const line = buffered.split("\n").find((l) => l.includes('"type":"serve"'));
    if (line !== undefined) {
      serve = JSON.parse(line) as { http: string; dashboard: string };
      break;
    }
  }
  if (serve === undefined) throw new Error(`no serve line; stderr: ${await stderr}`);
  const page = await (await fetch(`${serve.http}/`)).text();
  const script = await fetch(`${serve.http}/dashboard.js`);
  child.kill("SIGTERM");
  expect(await child.exited).toBe(EXIT.OK);
  expect(serve.dashboard).toStartWith(`${serve.http}/#token=`);
  expect(page).toContain('<main id="app"');
  expect(script.status).toBe(200);
  expect((await script.text()).length).toBeGreaterThan(10_000);
});

test("completion: the bash script completes through the binary", async () => {
  const bin = await dirs.fresh();
  await writeFile(join(bin, "dlm"), `#!/bin/sh\nexec ${JSON.stringify(binary)} "$@"\n`, { mode: 0o755 });
  const script = [
    "source <(dlm completion bash)",
    `COMP_WORDS=(dlm get --chec); COMP_CWORD=2; _dlm_complete; echo "\${COMPREPLY[*]}"`,
    `COMP_WORDS=(dlm re); COMP_CWORD=1; _dlm_complete; echo "\${COMPREPLY[*]}"`,
  ].join("\n");
  const r = await run(["bash", "--norc", "--noprofile", "-c", script], work, {
    PATH: `${bin}:${process.env["PATH"]}`,
  });
  expect(r.stderr).toBe("");
  expect(r.stdout.split("\n")).toEqual(["--checkpoint-interval --checksum --checksum-file", "resume", ""]);
});
