import type { Logger } from "@logtape/logtape";
import { urlHost } from "./listener.ts";
import { NOT_LISTENING, type Rejection, type RequestFacts, RequestGuard } from "./request-guard.ts";

/** What the guard of a listener needs besides its port. */
export interface ListenerGuardOptions {
  readonly token: string;
  readonly host: string;
  readonly maxBodyBytes: number;
  /** Where a client finds the token, for the 401 message (undefined: RequestGuard's default). */
  readonly tokenHint?: string | undefined;
  readonly log: Logger;
}

/**
 * The RequestGuard of a listener that learns its port only once bound (port 0): until `listening` every
 * request is refused (its Host cannot be checked yet). Every refusal is logged in one line. Shared by the HTTP (Elysia) and RPC (node:http2) listeners, which
 * must not import each other's server code.
 */
export class ListenerGuard {
  readonly #options: ListenerGuardOptions;
  #guard: RequestGuard | undefined;

  constructor(options: ListenerGuardOptions) {
    this.#options = options;
  }

  /**
   * Undefined when the request may proceed, else why not (logged); see RequestGuard.check. `path` is what the
   * log names: give no query string (it could carry anything, and no log line should echo secrets).
   */
  check(
    request: { method: string; path: string },
    facts: RequestFacts,
    requireToken?: boolean,
  ): Rejection | undefined {
    const rejection = this.#guard === undefined ? NOT_LISTENING : this.#guard.check(facts, requireToken);
    if (rejection === undefined) return undefined;
    this.#options.log.info("refused {method} {path}: {reason}", {
      method: request.method,
      path: request.path,
      reason: rejection.message,
    });
    return rejection;
  }

  /** The listener is bound to `port`: requests are checked from now on. Returns the base URL clients use. */
  listening(port: number): { readonly url: string; readonly port: number } {
    const { token, host, maxBodyBytes, tokenHint } = this.#options;
    this.#guard = new RequestGuard(token, { host, port }, maxBodyBytes, tokenHint);
    return { url: `http://${urlHost(host)}:${port}`, port };
  }
}

/**
 * Waits for `closing` at most `graceMs` (open connections finishing on their own at stop). Returns false if
 * the grace ran out first, so the caller forces the rest closed.
 */
export async function closeWithin(closing: Promise<unknown>, graceMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    closing.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}
