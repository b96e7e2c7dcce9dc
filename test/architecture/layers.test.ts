import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * Dependencies point one way: interfaces → control, progress → engine → errors, log.
 * This scans every import in src/ (static, side-effect only, re-exports and dynamic `import()`) and fails on
 * an arrow pointing the wrong way, on a sideways import between cli/, http/ and rpc/ (what two of them share
 * lives in interfaces/shared/), and on anything the RPC listener reaches that loads Elysia.
 */
const SRC = resolve(import.meta.dir, "../../src");

/** Layers that each folder may NOT import from. */
const FORBIDDEN: Record<string, readonly string[]> = {
  engine: ["interfaces", "control", "progress", "gen"],
  progress: ["interfaces", "control", "gen"],
  control: ["interfaces", "gen"],
  manager: ["interfaces", "gen"],
};

/**
 * Inside interfaces/: what each part may import. control-plane.ts (one download, `get --listen`) and
 * serve-plane.ts (`dlm serve`) are the modules that wire the two listeners together; the CLI starts them
 * and nothing else does.
 */
const INTERFACE_IMPORTS: Record<string, readonly string[]> = {
  // aria2/ is aria2's JSON-RPC, one listener that is its own plane: `dlm serve --aria2-rpc` starts it.
  cli: ["cli", "shared", "control-plane", "serve-plane", "aria2"],
  aria2: ["aria2", "shared"],
  http: ["http", "shared"],
  rpc: ["rpc", "shared"],
  shared: ["shared"],
  "control-plane": ["http", "rpc", "shared"],
  "serve-plane": ["http", "rpc", "shared"],
};

function sourceFiles(): string[] {
  return [...new Bun.Glob("**/*.ts").scanSync({ cwd: SRC })].filter((f) => !f.startsWith("gen/"));
}

function layerOf(path: string): string {
  const [first] = path.split("/");
  return first === undefined || !path.includes("/") ? "root" : first;
}

/** `interfaces/X/...` → X; `interfaces/control-plane.ts` → "control-plane"; undefined outside interfaces/. */
function interfacePartOf(path: string): string | undefined {
  const parts = path.split("/");
  if (parts[0] !== "interfaces") return undefined;
  return parts.length > 2 ? parts[1] : parts[1]?.replace(/\.ts$/, "");
}

/** Every module specifier `text` imports: `import … from`, `export … from`, `import "x"`, `import("x")`. */
export function specifiersIn(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'`]([^"'`]+)["'`]/g;
  return [...text.matchAll(pattern)].map((m) => m[1] ?? "");
}

function importsOf(file: string): string[] {
  return specifiersIn(readFileSync(join(SRC, file), "utf8"));
}

/** src-relative path of a relative specifier in `file`. */
function targetOf(file: string, spec: string): string {
  return relative(SRC, resolve(dirname(join(SRC, file)), spec));
}

describe("the import scanner", () => {
  test("sees static, side-effect, re-export and dynamic imports", () => {
    const text = [
      `import { a } from "./a.ts";`,
      `import type { B } from '../b.ts';`,
      `import "./side-effect.ts";`,
      `export * from "./re.ts";`,
      'const { c } = await import("../../c.ts");',
      "const d = await import( `./d.ts` );",
    ].join("\n");
    expect(specifiersIn(text)).toEqual([
      "./a.ts",
      "../b.ts",
      "./side-effect.ts",
      "./re.ts",
      "../../c.ts",
      "./d.ts",
    ]);
  });
});

describe("layering", () => {
  const files = sourceFiles();

  test("there are sources to check", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  test.each(Object.keys(FORBIDDEN))("%s/ imports nothing from the layers above it", (layer) => {
    const wrong: string[] = [];
    for (const file of files.filter((f) => layerOf(f) === layer)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) {
          if (layer === "engine" && /^(elysia|@connectrpc|@bufbuild)/.test(spec))
            wrong.push(`${file} -> ${spec}`);
          continue;
        }
        const target = targetOf(file, spec);
        if (FORBIDDEN[layer]?.includes(layerOf(target))) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("cli/, http/ and rpc/ never import each other; shared/ imports none of them", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = interfacePartOf(file);
      if (from === undefined) continue;
      for (const spec of importsOf(file).filter((s) => s.startsWith("."))) {
        const to = interfacePartOf(targetOf(file, spec));
        if (to !== undefined && !INTERFACE_IMPORTS[from]?.includes(to)) wrong.push(`${file} -> ${to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("nothing the RPC listener and its service import loads Elysia", () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith(".")) visit(targetOf(file, spec));
        else packages.add(spec);
      }
    };
    visit("interfaces/rpc/rpc-listener.ts");
    visit("interfaces/rpc/progress-service.ts");
    expect(seen.size).toBeGreaterThan(3);
    expect([...packages].filter((p) => p === "elysia" || p.startsWith("elysia/"))).toEqual([]);
  });

  test("loading the RPC listener and its service loads no Elysia module (checked in a fresh process)", () => {
    const loaded = (modules: readonly string[]) => {
      const imports = modules.map((m) => `await import(${JSON.stringify(join(SRC, m))});`).join(" ");
      const script = `${imports} console.log(Object.keys(require.cache).filter((k) => k.includes("/elysia/")).length);`;
      const run = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
      expect(run.stderr.toString()).toBe("");
      return Number(run.stdout.toString().trim());
    };
    expect(loaded(["interfaces/rpc/rpc-listener.ts", "interfaces/rpc/progress-service.ts"])).toBe(0);
    // The probe sees Elysia where it is: the HTTP listener.
    expect(loaded(["interfaces/http/control-api.ts"])).toBeGreaterThan(0);
  });

  test("only main.ts calls process.exit", () => {
    const callers = files.filter((f) => /process\.exit\(/.test(readFileSync(join(SRC, f), "utf8")));
    expect(callers).toEqual(["main.ts"]);
  });

  test("engine/ reads no globals the Context provides", () => {
    const offenders = files
      .filter((f) => layerOf(f) === "engine")
      .filter((f) => /process\.env|Date\.now\(\)|console\./.test(readFileSync(join(SRC, f), "utf8")));
    expect(offenders).toEqual([]);
  });
});
