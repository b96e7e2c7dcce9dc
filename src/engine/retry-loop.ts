import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { HttpStatusError, NetworkError } from "../errors.ts";
import { decideRetry, describeFailure, type FailureKind, type RetryOptions } from "./retry-policy.ts";
import { sleep } from "./worker.ts";

/**
 * Runs a request-shaped step (the probe) under the retry policy: network errors and retryable statuses
 * (5xx, 408, 429) are retried with backoff; anything else is thrown at once.
 */
export async function withRetries<T>(
  ctx: Context,
  options: RetryOptions,
  signal: AbortSignal,
  log: Logger,
  what: string,
  step: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const failure = failureOf(error);
      if (failure === undefined) throw error;
      const decision = decideRetry(failure, attempt, options, ctx.now(), Math.random);
      if (!decision.retry) throw error;
      log.info("{what} failed ({failure}); retrying in {delay_ms} ms", {
        what,
        failure: describeFailure(failure),
        delay_ms: Math.round(decision.delayMs),
        attempt: attempt + 1,
      });
      await sleep(decision.delayMs, signal);
    }
  }
}

function failureOf(error: unknown): FailureKind | undefined {
  // Nothing listens there (or the name does not resolve): nothing is downloaded yet, so say so at once
  // rather than after a minute of backoff. Resets and timeouts are still retried.
  if (error instanceof NetworkError && (error.reason === "refused" || error.reason === "dns"))
    return undefined;
  if (error instanceof NetworkError) return { kind: "network", reason: error.reason, cause: error };
  if (error instanceof HttpStatusError && error.status !== undefined) {
    const { retryAfter } = error;
    return { kind: "status", status: error.status, ...(retryAfter === undefined ? {} : { retryAfter }) };
  }
  return undefined;
}
