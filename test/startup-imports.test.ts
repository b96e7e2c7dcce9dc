// What `dlm get` loads before its first request: every module main.ts imports statically is loaded and
// evaluated at start, in `bun run dlm` and in the compiled binary alike (dynamic imports are chunks of their
// own there, loaded on use). Issue 24: each of these costs start-up time and resident memory, so the
// servers, the manager, the store, the Metalink parser and the Node modules only they use stay out of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REPO_ROOT, tempDirs } from "./helpers/cli.ts";

const dirs = tempDirs("dlm-startup-imports-");
/** Input paths main.ts reaches through static imports (relative to the repository, as the bundler names them). */
let eager: ReadonlySet<string>;
/** Node/Bun built-ins those modules import statically. */
let builtins: ReadonlySet<string>;

beforeAll(async () => {
  const result = await Bun.build({
    entrypoints: [join(REPO_ROOT, "src", "main.ts")],
    outdir: await dirs.fresh(),
    target: "bun",
    format: "esm",
    splitting: true,
    metafile: true,
  });
  if (!result.success || result.metafile === undefined) {
    throw new Error(`build failed: ${result.logs.map((log) => log.message).join("; ")}`);
  }
  const inputs = result.metafile.inputs;
  const seen = new Set<string>();
  const external = new Set<string>();
  const stack = ["src/main.ts"];
  for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of inputs[path]?.imports ?? []) {
      if (imported.kind !== "import-statement") continue;
      if (imported.path in inputs) stack.push(imported.path);
      else if (imported.external === true) external.add(imported.path.replace(/^node:/, ""));
    }
  }
  eager = seen;
  builtins = external;
});

afterAll(() => dirs.removeAll());

describe("modules loaded at start (static imports of src/main.ts)", () => {
  test("the graph is what the build sees (main.ts, the engine, the CLI)", () => {
    expect(eager.has("src/main.ts")).toBe(true);
    expect(eager.has("src/engine/download.ts")).toBe(true);
    expect(eager.has("src/interfaces/cli/commands/get.ts")).toBe(true);
  });

  // (aria2/origin.ts is the --rpc-allow-origin flag's parser, a few lines serve's flags need.)
  test("no server, manager, store or Metalink parser", () => {
    const heavy = [...eager].filter((path) =>
      /node_modules\/(elysia|@connectrpc|@xmldom|hash-wasm|preact)\/|src\/(manager|interfaces\/(http|rpc))\/|src\/interfaces\/aria2\/(?!origin\.ts$)|src\/engine\/metalink\.ts$|serve-plane\.ts$|control-plane\.ts$/.test(
        path,
      ),
    );
    expect(heavy).toEqual([]);
  });

  // Every command but get loads its body when it runs (a *-run.ts module, or control-command.ts for pause and
  // cancel): their clients, serve's home and the Metalink chooser cost a plain `dlm get` start-up time.
  test("no other command's body, client or helpers", () => {
    const others = [...eager].filter((path) =>
      /src\/interfaces\/cli\/(commands\/[\w-]+-run\.ts|commands\/(control-command|resume)\.ts|control-client\.ts|service-client\.ts|serve-home\.ts|download-id\.ts)$|src\/engine\/metalink-choice\.ts$/.test(
        path,
      ),
    );
    expect(others).toEqual([]);
  });

  test("no Node module that only --listen, serve or the hash thread needs", () => {
    const unwanted = [
      "net",
      "crypto",
      "worker_threads",
      "http",
      "https",
      "http2",
      "zlib",
      "bun:sqlite",
      "os",
    ];
    expect(unwanted.filter((name) => builtins.has(name))).toEqual([]);
  });
});
