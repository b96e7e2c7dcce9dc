// Repro for --limit against the project's in-process origin (node:http under Bun) and nginx: runs `dlm get
// -c N --limit RATE --json` and prints the rate it held from the server's first answer to its end, on dlm's
// own clock (the start record's elapsedMs, the result's seconds), over the limit. Run it under the bench lock:
//   bun bench/limit-origin.ts [--server origin|nginx|both] [-c 1,4,16]
//     [--limits 256K,1M,4M] [--seconds 2.5] [--load N] [--repo DIR]
// --load N runs N other processes spinning a core each for the whole run (the machine under load); --repo runs
// another checkout's dlm (an older one, whose start record has no elapsedMs, is timed from its command's start).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeFileOf } from "../test/helpers/bytes.ts";
import { startNginx } from "../test/helpers/nginx.ts";
import { startOrigin } from "../test/helpers/origin.ts";

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text.trim());
  if (m === null) throw new Error(`bad size ${text}`);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? "").toUpperCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "both" },
    c: { type: "string", short: "c", default: "1,4,16" },
    limits: { type: "string", default: "256K,1M,4M" },
    seconds: { type: "string", default: "2.5" },
    load: { type: "string", default: "0" },
    repo: { type: "string", default: resolve(import.meta.dir, "..") },
  },
});

/** The rate dlm held: the file's size over the time from the server's first answer to the end. */
interface Measured {
  readonly ratio: number;
  readonly seconds: number;
  readonly exit: number;
}

async function runOnce(
  url: string,
  size: number,
  conns: number,
  rate: number,
  cwd: string,
): Promise<Measured> {
  const env: Record<string, string | undefined> = { ...process.env, DLM_LOG: "error" };
  const args = ["get", url, "-o", "out.bin", "-c", String(conns), "--limit", String(rate), "--json"];
  const child = Bun.spawn([process.execPath, join(values.repo ?? ".", "src/main.ts"), ...args], {
    cwd,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const text = await new Response(child.stdout).text();
  const exit = await child.exited;
  const records = text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const start = records.find((r) => r["type"] === "start");
  const result = records.find((r) => r["type"] === "result");
  if (start === undefined || result === undefined) return { ratio: Number.NaN, seconds: 0, exit };
  // From the server's first answer (the start record) to the end (the result), on dlm's own clock.
  const seconds = (result["seconds"] as number) - ((start["elapsedMs"] as number | undefined) ?? 0) / 1000;
  return { ratio: size / seconds / rate, seconds, exit };
}

const load = Number(values.load);
const spinners = Array.from({ length: Number.isInteger(load) && load > 0 ? load : 0 }, () =>
  Bun.spawn([process.execPath, "-e", "const end = Date.now() + 600000; while (Date.now() < end) {}"], {
    stdout: "ignore",
    stderr: "ignore",
  }),
);
const dir = await mkdtemp(join(tmpdir(), "dlm-limit-origin-"));
try {
  const seconds = Number(values.seconds);
  const limits = (values.limits ?? "").split(",").map(parseSize);
  const conns = (values.c ?? "").split(",").map(Number);
  const servers = values.server === "both" ? ["origin", "nginx"] : [values.server ?? "origin"];
  const origin = await startOrigin();
  const root = join(dir, "root");
  await Bun.write(join(root, ".keep"), "");
  for (const limit of limits) {
    const size = Math.round(limit * seconds);
    origin.serve(`/f-${size}.bin`, { size });
    await writeFileOf(join(root, `f-${size}.bin`), size);
  }
  const nginx = servers.includes("nginx") ? await startNginx(root) : undefined;
  console.log(
    `server  -c  limit      size  seconds  x limit${spinners.length > 0 ? `  (${spinners.length} spinning processes)` : ""}`,
  );
  for (const server of servers) {
    for (const c of conns) {
      for (const limit of limits) {
        const size = Math.round(limit * seconds);
        const path = `/f-${size}.bin`;
        const url = server === "nginx" ? (nginx?.url(path) ?? "") : origin.url(path);
        const cwd = await mkdtemp(join(dir, "run-"));
        const m = await runOnce(url, size, c, limit, cwd);
        console.log(
          `${server.padEnd(7)} ${String(c).padStart(2)}  ${String(limit).padStart(7)}  ${String(size).padStart(8)}  ${m.seconds.toFixed(2).padStart(7)}  ${m.ratio.toFixed(3)}${m.exit === 0 ? "" : `  exit ${m.exit}`}`,
        );
      }
    }
  }
  await nginx?.stop();
  await origin.close();
} finally {
  for (const spinner of spinners) spinner.kill();
  await rm(dir, { recursive: true, force: true });
}
