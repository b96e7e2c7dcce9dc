import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * Dependencies point one way (STYLE.md rule 2): interfaces → control, progress → engine → errors, log.
 * This scans every import in src/ and fails on an arrow pointing the wrong way.
 */
const SRC = resolve(import.meta.dir, "../../src");

/** Layers that each folder may NOT import from. */
const FORBIDDEN: Record<string, readonly string[]> = {
  engine: ["interfaces", "control", "progress", "gen"],
  progress: ["interfaces", "control", "gen"],
  control: ["interfaces", "gen"],
  manager: ["interfaces", "gen"],
};

function sourceFiles(): string[] {
  return [...new Bun.Glob("**/*.ts").scanSync({ cwd: SRC })].filter((f) => !f.startsWith("gen/"));
}

function layerOf(path: string): string {
  const [first] = path.split("/");
  return first === undefined || !path.includes("/") ? "root" : first;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  return [...text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)].map((m) => m[1] ?? "");
}

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
        const target = relative(SRC, resolve(dirname(join(SRC, file)), spec));
        if (FORBIDDEN[layer]?.includes(layerOf(target))) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
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
