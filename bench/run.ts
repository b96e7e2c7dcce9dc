// Benchmark harness: `bun bench/run.ts [--smoke] [--size 1G] [--reps 3] [--scenarios a,b] [--tools a,b]`.
// See bench/README.md. Exit 0 when every output was correct, 1 when any was wrong, 2 on a bad command line,
// 3 when the harness itself broke.
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startNginx } from "../test/helpers/nginx.ts";
import { type BenchOptions, BenchUsageError, parseBenchArgs, USAGE } from "./args.ts";
import { ensureFile } from "./files.ts";
import { gnuTimeAvailable } from "./measure.ts";
import { findAccessLog } from "./nginx-log.ts";
import { startPacer } from "./pacer.ts";
import { allOk, LEGEND, type ScenarioResult, scenarioTable, type ToolRuns } from "./report.ts";
import { runOnce } from "./run-once.ts";
import { isCapped, type Scenario, scenarios } from "./scenarios.ts";
import { TOOLS, type Tool, toolInstalled } from "./tools.ts";

const REPO = resolve(import.meta.dir, "..");
const FILE_CACHE = join(tmpdir(), "dlm-bench-files");
const SERVED_NAME = "bench.bin";

/** Which tools run in a scenario, and notes for the ones that do not. */
function pickTools(scenario: Scenario, options: BenchOptions): { tools: Tool[]; notes: string[] } {
  const notes: string[] = [];
  const tools: Tool[] = [];
  const wanted = options.tools === undefined ? TOOLS : TOOLS.filter((t) => options.tools?.includes(t.id));
  const skippedSingle: string[] = [];
  for (const tool of wanted) {
    if (!toolInstalled(tool)) notes.push(`${tool.label}: not run, \`${tool.bin}\` is not installed`);
    else if (options.tools === undefined && tool.connections === 1 && isCapped(scenario)) {
      skippedSingle.push(tool.label);
    } else tools.push(tool);
  }
  if (skippedSingle.length > 0) {
    const seconds = options.size / (scenario.mode.rateBytesPerSec ?? 1);
    notes.push(
      `${skippedSingle.join(", ")}: not run here: one connection at the cap takes size / cap = ${seconds.toFixed(1)} s ` +
        `(name them in --tools to run them anyway)`,
    );
  }
  return { tools, notes };
}

function defaultTimeoutMs(scenario: Scenario, size: number): number {
  const rate = scenario.mode.rateBytesPerSec;
  // Four times a single connection at the cap, or 20 MB/s when uncapped, plus 30 s for start-up.
  return 30_000 + (rate === undefined ? size / 20e6 : (4 * size) / rate) * 1000;
}

function versionOf(argv: string[]): string {
  const out = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return out.stdout.toString().split("\n")[0]?.trim() ?? "?";
}

function header(options: BenchOptions, started: Date): string {
  const tools = [
    `bun ${Bun.version}`,
    ...[
      ["aria2c", "--version"],
      ["axel", "--version"],
      ["curl", "--version"],
      ["wget2", "--version"],
    ]
      .filter(([bin]) => Bun.which(bin ?? "") !== null)
      .map(versionOf),
  ];
  return [
    `# dlm bench ${started.toISOString()}${options.smoke ? " (smoke)" : ""}`,
    "",
    `- command: \`bun bench/run.ts ${process.argv.slice(2).join(" ")}\``,
    `- file: ${options.size} bytes (${(options.size / 2 ** 20).toFixed(0)} MiB), ${options.reps} repetition(s), tool order alternating`,
    `- link: cap ${(options.rateBytesPerSec / 2 ** 20).toFixed(1)} MiB/s per connection where capped, latency ${options.latencyMs} ms in the latency scenario`,
    `- machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${process.platform}; nginx and the pacer share it`,
    `- meter: ${gnuTimeAvailable() ? "/usr/bin/time -f '%e %U %S %M'" : "Bun resourceUsage()"}; ${tools.join("; ")}`,
  ].join("\n");
}

async function main(options: BenchOptions): Promise<number> {
  const started = new Date();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`bench: preparing a ${options.size}-byte file in ${FILE_CACHE}`);
  const file = await ensureFile(FILE_CACHE, options.size);
  const root = await mkdtemp(join(tmpdir(), "dlm-bench-root-"));
  const work = await mkdtemp(join(tmpdir(), "dlm-bench-out-"));
  await symlink(file.path, join(root, SERVED_NAME));
  const nginx = await startNginx(root);
  const pacer = await startPacer(`http://127.0.0.1:${nginx.port}`);
  const stop = async () => {
    await pacer.close();
    await nginx.stop();
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    void stop().finally(() => process.exit(130));
  });
  try {
    const accessLog = await findAccessLog(nginx.port);
    const table = scenarios({ rateBytesPerSec: options.rateBytesPerSec, latencyMs: options.latencyMs });
    const results: ScenarioResult[] = [];
    for (const id of options.scenarios) {
      const scenario = table[id];
      const { tools, notes } = pickTools(scenario, options);
      if (scenario.via === "nginx" && accessLog === undefined)
        notes.push("served/size unknown: nginx log not found");
      pacer.configure(scenario.mode);
      const rows: ToolRuns[] = tools.map((tool) => ({ tool, runs: [] }));
      const timeoutMs = options.timeoutMs ?? defaultTimeoutMs(scenario, options.size);
      const url = scenario.via === "nginx" ? nginx.url(SERVED_NAME) : pacer.url(SERVED_NAME);
      for (let rep = 0; rep < options.reps; rep++) {
        // Alternate the order, so no tool always runs first on a cold cache or last on a hot machine.
        const order = rep % 2 === 0 ? rows : [...rows].reverse();
        for (const row of order) {
          const setup = {
            scenario,
            file,
            url,
            out: join(work, "out.bin"),
            repo: REPO,
            pacer,
            accessLog,
            timeoutMs,
          };
          const result = await runOnce(row.tool, setup);
          row.runs.push(result);
          const shown = result.ok ? `${result.wallSeconds.toFixed(2)} s ok` : `FAIL ${result.failure}`;
          say(`bench: [${id} ${rep + 1}/${options.reps}] ${row.tool.label}: ${shown}`);
        }
      }
      const result: ScenarioResult = { scenario, sizeBytes: options.size, rows, notes };
      results.push(result);
      process.stdout.write(`\n${scenarioTable(result)}\n`);
    }
    const report = [header(options, started), ...results.map(scenarioTable), LEGEND].join("\n\n");
    const dir = resolve(options.resultsDir ?? join(REPO, "bench", "results"));
    await mkdir(dir, { recursive: true });
    const path = join(
      dir,
      `${started
        .toISOString()
        .replaceAll(":", "-")
        .replace(/\.\d+Z$/, "Z")}.md`,
    );
    await writeFile(path, `${report}\n`);
    process.stdout.write(`\n${LEGEND}\n\nbench: report written to ${path}\n`);
    const failed = results.filter((r) => !allOk(r)).map((r) => r.scenario.id);
    if (failed.length > 0) say(`bench: wrong or missing outputs in: ${failed.join(", ")}`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    await stop();
  }
}

let options: BenchOptions | undefined;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (options === undefined) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const code = await main(options).catch((error: unknown) => {
  process.stderr.write(
    `bench: harness error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 3;
});
process.exit(code);
