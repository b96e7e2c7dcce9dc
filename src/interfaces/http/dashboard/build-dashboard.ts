import { join } from "node:path";

/** Which page: one download's (`dlm get --listen`) or the manager's queue (`dlm serve`). */
export type DashboardKind = "download" | "manager";

/** The dashboard's files, ready to serve. */
export interface DashboardAssets {
  readonly html: string;
  readonly css: string;
  readonly js: string;
  /** The tab icon (SVG). */
  readonly icon: string;
}

/** Sources of each page, relative to this folder. The manager's page reuses the download page's style. */
const SOURCES: Readonly<Record<DashboardKind, { script: string; html: string; styles: readonly string[] }>> =
  {
    download: { script: "page.ts", html: "page.html", styles: ["page.css"] },
    manager: {
      script: join("manager", "page.ts"),
      html: join("manager", "page.html"),
      styles: ["page.css", join("manager", "page.css")],
    },
  };

/** Every kind, for the build script. */
export const DASHBOARD_KINDS: readonly DashboardKind[] = ["download", "manager"];

const built = new Map<DashboardKind, Promise<DashboardAssets>>();

/**
 * A dashboard's files, bundled on first use and kept in memory (~60 ms once per process and page). The
 * compiled binary never runs this: `bun run build` (scripts/build.ts) bundles both pages once and compiles
 * in, in place of this module, one that returns those bundles (a binary has neither the sources nor
 * node_modules).
 */
export function dashboardAssets(kind: DashboardKind = "download"): Promise<DashboardAssets> {
  let assets = built.get(kind);
  if (assets === undefined) {
    assets = bundleDashboard(kind);
    built.set(kind, assets);
  }
  return assets;
}

/**
 * Bundles a dashboard with Bun (no CDN, no network: everything comes from node_modules). Minified, the
 * download page is about 133 KB of JavaScript and the manager's about 172 KB (Preact included), most of it
 * the protobuf and Connect runtime; test/dashboard/serve.test.ts and manager-page.test.ts keep them under
 * their budgets.
 */
export async function bundleDashboard(kind: DashboardKind = "download"): Promise<DashboardAssets> {
  const dir = import.meta.dir;
  const source = SOURCES[kind];
  const result = await Bun.build({
    entrypoints: [join(dir, source.script)],
    target: "browser",
    format: "esm",
    minify: true,
    sourcemap: "none",
  });
  const [output] = result.outputs;
  if (!result.success || output === undefined) {
    throw new Error(`dashboard bundle failed: ${result.logs.map((l) => l.message).join("; ")}`);
  }
  const styles = await Promise.all(source.styles.map((file) => Bun.file(join(dir, file)).text()));
  return {
    html: await Bun.file(join(dir, source.html)).text(),
    css: styles.join("\n"),
    js: await output.text(),
    icon: await Bun.file(join(dir, "favicon.svg")).text(),
  };
}
