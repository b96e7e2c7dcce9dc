import { UsageError } from "../errors.ts";

/** The URL schemes dlm fetches. Bun's fetch also reads `file:`, `data:` and `blob:`: those must never reach it. */
const FETCHABLE = new Set(["http:", "https:"]);

/** True when dlm may fetch `url` (http or https). */
export function isFetchable(url: URL): boolean {
  return FETCHABLE.has(url.protocol);
}

/**
 * The one rule for what dlm may fetch: `url` parsed, if it is http:// or https://. Anything else (`file:`,
 * `data:`, `blob:`, garbage) is a UsageError naming the URL and `what` brought it ("url", "state.json",
 * "the redirect of GET …"). Called where requests are made (engine/http.ts, every hop) and at the doors
 * that take URLs (Add, Update), so a client hears of it before anything is stored.
 */
export function assertFetchableUrl(url: string, what: string): URL {
  const parsed = URL.parse(url);
  if (parsed === null || !isFetchable(parsed)) {
    throw new UsageError(`${what}: expected an http:// or https:// URL, got ${JSON.stringify(url)}`, {
      flag: what,
      input: url,
      url,
    });
  }
  return parsed;
}
