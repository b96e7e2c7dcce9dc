import { join } from "node:path";

/** The dashboard's files, ready to serve. */
export interface DashboardAssets {
  readonly html: string;
  readonly css: string;
  readonly js: string;
  /** The tab icon (SVG). */
  readonly icon: string;
}

let built: Promise<DashboardAssets> | undefined;

/**
 * The dashboard's files, bundled on first use and kept in memory (~60 ms once per process). The compiled
 * binary never runs this: `bun run build` (scripts/build.ts) bundles the dashboard once and compiles in, in
 * place of this module, one that returns that bundle (a binary has neither the sources nor node_modules).
 */
export function dashboardAssets(): Promise<DashboardAssets> {
  built ??= bundleDashboard();
  return built;
}

/**
 * Bundles the dashboard with Bun (no CDN, no network: everything comes from node_modules). Minified it is
 * about 133 KB of JavaScript, ~38 KB gzipped, most of it the protobuf runtime; serve.test.ts keeps it under
 * 150 KB.
 */
export async function bundleDashboard(): Promise<DashboardAssets> {
  const dir = import.meta.dir;
  const result = await Bun.build({
    entrypoints: [join(dir, "page.ts")],
    target: "browser",
    format: "esm",
    minify: true,
    sourcemap: "none",
  });
  const [output] = result.outputs;
  if (!result.success || output === undefined) {
    throw new Error(`dashboard bundle failed: ${result.logs.map((l) => l.message).join("; ")}`);
  }
  return {
    html: await Bun.file(join(dir, "page.html")).text(),
    css: await Bun.file(join(dir, "page.css")).text(),
    js: await output.text(),
    icon: await Bun.file(join(dir, "favicon.svg")).text(),
  };
}
