import { type DashboardAssets, type DashboardKind, dashboardAssets } from "./build-dashboard.ts";

/**
 * The dashboard's static files by request path. They carry no data (everything live comes over the
 * authenticated Watch stream), so they are served without the bearer token: a browser navigation cannot
 * send one. They still pass the Host check like every other request.
 */
export const DASHBOARD_FILES: Readonly<Record<string, { key: keyof DashboardAssets; type: string }>> = {
  "/": { key: "html", type: "text/html; charset=utf-8" },
  "/dashboard.js": { key: "js", type: "text/javascript; charset=utf-8" },
  "/dashboard.css": { key: "css", type: "text/css; charset=utf-8" },
  // Served so the browser's automatic icon request is not a 401 in the log.
  "/favicon.svg": { key: "icon", type: "image/svg+xml" },
};

/** True when `method path` asks for one of the dashboard's static files (the only token-free requests). */
export function isDashboardFile(method: string, path: string): boolean {
  return method === "GET" && Object.hasOwn(DASHBOARD_FILES, path);
}

/**
 * Headers of every dashboard file: scripts, styles and connections from this listener only, no framing, no
 * referrer (the page URL carries the token in its fragment; browsers never send fragments, this is a second
 * belt), no MIME sniffing, no caching (a new dlm process has a new bundle and a new port).
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};

/**
 * The response for a path of the `kind` page (see {@link DASHBOARD_FILES}: both pages use the same paths);
 * the bundle is built on first use.
 */
export async function dashboardResponse(path: string, kind: DashboardKind = "download"): Promise<Response> {
  const file = DASHBOARD_FILES[path];
  if (file === undefined) return new Response("not found", { status: 404 });
  const assets = await dashboardAssets(kind);
  return new Response(assets[file.key], { headers: { ...DASHBOARD_HEADERS, "content-type": file.type } });
}
