// Start-up: `bun bench/first-request.ts [--runs 11] [--binary PATH] [--base DIR] [--base-binary PATH]
// [--connections 16] [--size 16M]` (--binary repeatable: one row each) measures, for each command, from just before the spawn (the same clock as
// the origin in this process) to:
// - the first request arriving at a tiny origin here (a 64 KiB file: item 3 of issue 24, the binary's first
//   request within 50 ms of exec);
// - every one of N requests having arrived and the body starting out on each (a 16 MiB file, `-c N`: how long
//   the probe and the start of the other N-1 connections take; the bench's capped links pay it on each row);
// - exit, for both files.
// Commands: a bare `bun -e "await fetch(URL)"` (Bun's own floor) and the same line compiled (the floor of a
// single-file executable), `bun bench/floor-ranged.ts` with N connections (the floor for all N), dlm from
// source (`bun src/main.ts get`) and the compiled dlm (built into a temp dir unless --binary names one).
// --base DIR adds dlm from another checkout (`bun DIR/src/main.ts`, and its binary built from it unless
// --base-binary names one), run interleaved with this one: an A/B in one run.
// Prints a table of medians (min-max).

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const REPO = resolve(import.meta.dir, "..");
const SMALL = new Uint8Array(64 * 1024).fill(7);

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: "string", default: "11" },
    binary: { type: "string", multiple: true },
    base: { type: "string" },
    "base-binary": { type: "string" },
    connections: { type: "string", default: "16" },
    size: { type: "string", default: "16" },
  },
});
const runs = Math.max(1, Number(values.runs));
const connections = Math.max(1, Number(values.connections));
const bigSize = Math.max(1, Number(values.size.replace(/M$/i, ""))) * 2 ** 20;
const BIG = new Uint8Array(bigSize).fill(9);
const dir = await mkdtemp(join(tmpdir(), "dlm-first-request-"));

/** Arrival times (performance.now(), ms) of the requests of the current spawn. */
let arrivals: number[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    arrivals.push(performance.now());
    const body = new URL(request.url).pathname === "/big.bin" ? BIG : SMALL;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
    if (range === null) return new Response(body, { headers: { "accept-ranges": "bytes" } });
    const start = Number(range[1]);
    const end = Math.min(range[2] === "" ? body.length - 1 : Number(range[2]), body.length - 1);
    return new Response(body.subarray(start, end + 1), {
      status: 206,
      headers: { "accept-ranges": "bytes", "content-range": `bytes ${start}-${end}/${body.length}` },
    });
  },
});
const origin = `http://127.0.0.1:${server.port}`;

function build(repo: string, outfile: string): string {
  const result = Bun.spawnSync([process.execPath, "scripts/build.ts", outfile], {
    cwd: repo,
    stdout: "ignore",
  });
  if (result.exitCode !== 0)
    throw new Error(`${repo}: bun scripts/build.ts failed: ${result.stderr.toString()}`);
  return outfile;
}

const binaries = values.binary ?? [build(REPO, join(dir, "dlm"))];
const base = values.base === undefined ? undefined : resolve(values.base);
const baseBinary =
  base === undefined ? undefined : (values["base-binary"] ?? build(base, join(dir, "dlm-base")));
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

interface Command {
  readonly label: string;
  /** argv for a URL; `all` is the N-connection download of the big file. */
  argv(url: string, all: boolean): string[];
  /** Requests it makes on the big file at most (the floors' one-line fetch makes one). */
  readonly requests: number;
}
const dlmArgs = (url: string, all: boolean) => [
  "get",
  url,
  "-o",
  out,
  "--quiet",
  "--force",
  ...(all ? ["-c", String(connections)] : []),
];
const commands: Command[] = [
  {
    label: "bun -e fetch (floor)",
    argv: (url) => [process.execPath, "-e", `await fetch(${JSON.stringify(url)})`],
    requests: 1,
  },
  { label: "compiled fetch (floor)", argv: (url) => [floorBinary, url], requests: 1 },
  {
    label: `bun floor-ranged.ts ${connections} (floor)`,
    argv: (url, all) => [
      process.execPath,
      join(REPO, "bench", "floor-ranged.ts"),
      url,
      out,
      String(all ? bigSize : SMALL.length),
      String(connections),
    ],
    requests: connections,
  },
  ...(base === undefined
    ? []
    : [
        {
          label: "base: bun src/main.ts get",
          argv: (url: string, all: boolean) => [
            process.execPath,
            join(base, "src", "main.ts"),
            ...dlmArgs(url, all),
          ],
          requests: connections,
        },
      ]),
  {
    label: "bun src/main.ts get",
    argv: (url, all) => [process.execPath, join(REPO, "src", "main.ts"), ...dlmArgs(url, all)],
    requests: connections,
  },
  ...(baseBinary === undefined
    ? []
    : [
        {
          label: "base: dlm binary get",
          argv: (url: string, all: boolean) => [baseBinary, ...dlmArgs(url, all)],
          requests: connections,
        },
      ]),
  ...binaries.map((binary) => ({
    label: binaries.length === 1 ? "dlm binary get" : `dlm binary get (${binary})`,
    argv: (url: string, all: boolean) => [binary, ...dlmArgs(url, all)],
    requests: connections,
  })),
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const results = commands.map(() => ({
  first: [] as number[],
  exit: [] as number[],
  all: [] as number[],
  allExit: [] as number[],
}));

/** Spawns `argv`; returns ms from spawn to the first and the `count`-th request and to exit. */
async function timeOne(label: string, argv: string[], count: number) {
  arrivals = [];
  const started = performance.now();
  const proc = Bun.spawn(argv, { cwd: dir, stdout: "ignore", stderr: "inherit" });
  const code = await proc.exited;
  const exited = performance.now();
  if (code !== 0) throw new Error(`${label} exited ${code}`);
  const first = arrivals[0];
  if (first === undefined) throw new Error(`${label}: no request arrived`);
  const last = arrivals[Math.min(count, arrivals.length) - 1] ?? first;
  return { first: first - started, last: last - started, exit: exited - started };
}

for (let run = -1; run < runs; run++) {
  // Interleaved, one warm-up round (run -1) not counted.
  for (const [i, command] of commands.entries()) {
    const small = await timeOne(command.label, command.argv(`${origin}/f.bin`, false), 1);
    const big = await timeOne(command.label, command.argv(`${origin}/big.bin`, true), command.requests);
    if (run < 0) continue;
    results[i]?.first.push(small.first);
    results[i]?.exit.push(small.exit);
    results[i]?.all.push(big.last);
    results[i]?.allExit.push(big.exit);
  }
}
server.stop(true);
await rm(dir, { recursive: true, force: true });

const fmt = (xs: number[]) =>
  `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
const size = `${bigSize / 2 ** 20} MiB`;
console.log(
  `| command | exec → first request ms | exec → exit ms | ${size}: exec → ${connections}th request ms | ${size}: exec → exit ms |\n|---|---:|---:|---:|---:|`,
);
for (const [i, command] of commands.entries()) {
  const r = results[i];
  if (r !== undefined)
    console.log(
      `| ${command.label} | ${fmt(r.first)} | ${fmt(r.exit)} | ${fmt(r.all)} | ${fmt(r.allExit)} |`,
    );
}
console.log(
  `\nmedians of ${runs} runs (min-max); a 64 KiB file, then a ${size} one with ${connections} connections (the floors' one-line fetch: one request), from an origin in the measuring process`,
);

// With --base: the A/B as pairs (each round ran base and this checkout back to back), which a loaded machine
// blurs less than two medians: the median of this - base, per column.
if (base !== undefined) {
  const pairs: [string, string][] = [
    ["base: bun src/main.ts get", "bun src/main.ts get"],
    ["base: dlm binary get", binaries.length === 1 ? "dlm binary get" : `dlm binary get (${binaries[0]})`],
  ];
  console.log(
    `\n| this - base, median of ${runs} pairs | first request ms | exit ms | ${connections}th request ms | ${size} exit ms |\n|---|---:|---:|---:|---:|`,
  );
  for (const [a, b] of pairs) {
    const ra = results[commands.findIndex((c) => c.label === a)];
    const rb = results[commands.findIndex((c) => c.label === b)];
    if (ra === undefined || rb === undefined) continue;
    const diff = (xs: number[], ys: number[]) =>
      median(ys.map((y, k) => y - (xs[k] ?? Number.NaN))).toFixed(1);
    console.log(
      `| ${b} | ${diff(ra.first, rb.first)} | ${diff(ra.exit, rb.exit)} | ${diff(ra.all, rb.all)} | ${diff(ra.allExit, rb.allExit)} |`,
    );
  }
}
