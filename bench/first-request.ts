// Start-up: `bun bench/first-request.ts [--runs 11] [--binary PATH]` measures, for each command, the time from
// just before the spawn to the first request arriving at a tiny origin in this process (the same clock), and
// the whole run to exit. Commands: a bare `bun -e "await fetch(URL)"` (Bun's own floor) and the same line
// compiled (the floor of a single-file executable), dlm from source
// (`bun src/main.ts get`) and the compiled dlm (built into a temp dir unless --binary names one).
// Prints a table of medians (min-max). Issue 24 item 3: the binary's first request within 50 ms of exec.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const REPO = resolve(import.meta.dir, "..");
const BODY = new Uint8Array(64 * 1024).fill(7);

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { runs: { type: "string", default: "11" }, binary: { type: "string" } },
});
const runs = Math.max(1, Number(values.runs));
const dir = await mkdtemp(join(tmpdir(), "dlm-first-request-"));
let arrivedAt: number | undefined;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch() {
    arrivedAt ??= performance.now();
    return new Response(BODY, { headers: { "accept-ranges": "bytes" } });
  },
});
const url = `http://127.0.0.1:${server.port}/f.bin`;

let binary = values.binary;
if (binary === undefined) {
  binary = join(dir, "dlm");
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", binary], {
    cwd: REPO,
    stdout: "ignore",
  });
  if (build.exitCode !== 0) throw new Error(`bun run build failed: ${build.stderr.toString()}`);
}
// The same floor compiled: what exec of a Bun single-file executable costs before any of dlm runs.
const floorSource = join(dir, "floor.ts");
await Bun.write(floorSource, "await fetch(process.argv[2] as string);\n");
const floorBinary = join(dir, "floor");
const floorBuild = await Bun.build({
  entrypoints: [floorSource],
  compile: { outfile: floorBinary, autoloadDotenv: false, autoloadBunfig: false },
  format: "esm",
  minify: true,
  bytecode: true,
});
if (!floorBuild.success) throw new Error("could not compile the floor script");
const out = join(dir, "out.bin");
const commands: { label: string; argv: string[] }[] = [
  { label: "bun -e fetch (floor)", argv: [process.execPath, "-e", `await fetch(${JSON.stringify(url)})`] },
  { label: "compiled fetch (floor)", argv: [floorBinary, url] },
  {
    label: "bun src/main.ts get",
    argv: [process.execPath, "src/main.ts", "get", url, "-o", out, "--quiet", "--force"],
  },
  { label: "dlm binary get", argv: [binary, "get", url, "-o", out, "--quiet", "--force"] },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const results = commands.map(() => ({ first: [] as number[], exit: [] as number[] }));
for (let run = -1; run < runs; run++) {
  // Interleaved, one warm-up round (run -1) not counted.
  for (const [i, command] of commands.entries()) {
    arrivedAt = undefined;
    const started = performance.now();
    const proc = Bun.spawn(command.argv, { cwd: REPO, stdout: "ignore", stderr: "inherit" });
    const code = await proc.exited;
    const exited = performance.now();
    if (code !== 0) throw new Error(`${command.label} exited ${code}`);
    if (arrivedAt === undefined) throw new Error(`${command.label}: no request arrived`);
    if (run < 0) continue;
    results[i]?.first.push(arrivedAt - started);
    results[i]?.exit.push(exited - started);
  }
}
server.stop(true);
await rm(dir, { recursive: true, force: true });

const fmt = (xs: number[]) =>
  `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
console.log(`| command | exec → first request ms | exec → exit ms |\n|---|---:|---:|`);
for (const [i, command] of commands.entries()) {
  const r = results[i];
  if (r !== undefined) console.log(`| ${command.label} | ${fmt(r.first)} | ${fmt(r.exit)} |`);
}
console.log(`\nmedians of ${runs} runs (min-max), a 64 KiB file from an origin in the measuring process`);
