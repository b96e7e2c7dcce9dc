import { cpus } from "node:os";
import type { BenchOptions } from "./args.ts";
import { BATCH_JOBS } from "./batch-tools.ts";
import { rateLabel } from "./limit-report.ts";
import { gnuTimeAvailable } from "./measure.ts";
import { median, sizeLabel } from "./report.ts";

/** How often `bun -e 0` is timed for the header's start-up figure. */
const BUN_STARTS = 5;

function versionOf(argv: string[]): string {
  const out = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return out.stdout.toString().split("\n")[0]?.trim() ?? "?";
}

/**
 * Median wall time of `bun -e 0` (the Bun that runs dlm here), seconds: the part of every dlm time that is the
 * runtime starting, before dlm's own code runs.
 */
export function bunStartup(): number {
  const times: number[] = [];
  for (let i = 0; i < BUN_STARTS; i++) {
    const started = performance.now();
    Bun.spawnSync([process.execPath, "-e", "0"], { stdout: "ignore", stderr: "ignore" });
    times.push((performance.now() - started) / 1000);
  }
  return median(times);
}

/** The report's header: command, sizes, link, machine, Bun's start-up and the tools' versions. */
export function header(options: BenchOptions, started: Date, bunStartSeconds: number): string {
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
  const sizes = options.sizes.map((size) => `${size} bytes (${sizeLabel(size)})`).join(", ");
  return [
    `# dlm bench ${started.toISOString()}${options.smoke ? " (smoke)" : ""}`,
    "",
    `- command: \`bun bench/run.ts ${process.argv.slice(2).join(" ")}\``,
    options.scenarios.length === 0
      ? `- ${options.reps} repetition(s), tool order alternating`
      : `- files: ${sizes}; ${options.reps} repetition(s), tool order alternating`,
    ...(options.batchScenarios.length === 0
      ? []
      : [
          `- batches: ${options.batchFiles} files of ${sizeLabel(options.batchSize)}, ${BATCH_JOBS} at once (${options.batchScenarios.join(", ")})`,
        ]),
    ...(options.limitRates.length === 0
      ? []
      : [
          `- limit: ${options.limitRates.map(rateLabel).join(", ")}, each with a file that takes ${options.limitSeconds} s at it`,
        ]),
    `- link: cap ${(options.rateBytesPerSec / 2 ** 20).toFixed(1)} MiB/s per connection where capped, latency ${options.latencyMs} ms in the latency scenario`,
    `- machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${process.platform}; nginx and the pacer share it`,
    `- Bun start-up: \`bun -e 0\` takes ${bunStartSeconds.toFixed(3)} s (median of ${BUN_STARTS}, spawn to exit); dlm's first byte s includes it`,
    `- meter: ${gnuTimeAvailable() ? "/usr/bin/time -f '%e %U %S %M'" : "Bun resourceUsage()"}; ${tools.join("; ")}`,
  ].join("\n");
}
