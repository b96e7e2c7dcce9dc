import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { REPO_ROOT } from "./cli.ts";

/** Debian's chromium (playwright-core cannot download a browser here). */
export const CHROMIUM = "/usr/bin/chromium";

/** True when the browser tests can run; they skip, saying why, otherwise. */
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Where the browser tests save screenshots (git-ignored; docs/ holds copies). */
export const ARTIFACTS = join(REPO_ROOT, "test-artifacts");

/** Flags for a quiet headless chromium: no sandbox (root in CI), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts chromium with a fresh profile in `profileDir` (nothing cached, no session storage, no first-run
 * state) and the given viewport.
 */
export function launchBrowser(
  profileDir: string,
  viewport: { readonly width: number; readonly height: number },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
}
