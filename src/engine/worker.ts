import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import {
  type DlmError,
  HttpStatusError,
  NetworkError,
  RangeNotSupportedError,
  RemoteChangedError,
} from "../errors.ts";
import { type ChunkVerdict, discardBody, httpGet, readBody } from "./http.ts";
import { delayUntilAll, type TokenBucket, takeFromAll } from "./rate-limiter.ts";
import type { LinkRefresher } from "./refresh.ts";
import type { RemoteFile } from "./remote-file.ts";
import { checkRangeResponse, isStrongEtag, type RangeCheckFailure } from "./response-check.ts";
import {
  decideRetry,
  describeFailure,
  type FailureKind,
  type RetryDecision,
  type RetryOptions,
} from "./retry-policy.ts";
import { nextOffsetOf, remainingOf, type Segment } from "./segment.ts";
import type { SegmentWriter } from "./storage/sink.ts";

/** Abort reason of one attempt whose connection delivered nothing for the stall timeout. */
export class StallAbort extends Error {
  constructor() {
    super("no bytes received within the stall timeout");
    this.name = "StallAbort";
  }
}

/** Abort reason of one attempt on a connection far slower than its peers: retried at once, not a failure. */
export class SlowRestart extends Error {
  constructor() {
    super("connection far slower than its peers: re-requesting on a fresh connection");
    this.name = "SlowRestart";
  }
}

/** Live facts about one connection, read by the meter, the stall watchdog and the planner. */
export interface WorkerActivity {
  readonly worker: number;
  segment: Segment;
  state: "active" | "retrying";
  retries: number;
  /** Monotonic ms of the last byte received (or of the attempt's start). */
  lastByteAt: number;
  /** Aborts the current attempt only (stall, slow-connection restart); the segment then continues. */
  attempt: AbortController;
  /** Bytes received on this connection (all attempts); sampled for its rate. */
  received: number;
  /** Monotonic ms when this worker took the segment. */
  readonly startedAt: number;
  /** Smoothed bytes/s, updated by the download thread's tick. */
  bytesPerSecond: number;
  /** Monotonic ms since when it has been far slower than its peers, if it is. */
  slowSince: number | undefined;
}

/** A failed attempt as a source learns of it. */
export type SourceAttemptFailure = FailureKind | { readonly kind: "disagrees"; readonly reason: string };

/** How a segment is fetched: by byte ranges, or as one whole-file stream from a server without Range. */
export type FetchMode = "range" | "stream";

/** Everything one worker needs to fetch one segment. */
export interface SegmentJob {
  readonly ctx: Context;
  /** Where requests go; replaced when `refresh` renews an expired link. */
  remote: RemoteFile;
  /** Renews the link when its target answers as an expired signed URL does (refresh.ts); absent = never. */
  readonly refresh?: LinkRefresher | undefined;
  readonly mode: FetchMode;
  readonly headers: readonly (readonly [string, string])[];
  /** Origin the credentials among `headers` were given for (see `GetOptions.credentialOrigin`). */
  readonly credentialOrigin: string;
  /** Longest wait for a response head (ms): the stall timeout. */
  readonly headTimeoutMs: number;
  readonly writer: SegmentWriter;
  /** Speed limits this connection's reads are charged to (the download's, a global one); may be empty. */
  readonly limits: readonly TokenBucket[];
  readonly activity: WorkerActivity;
  readonly retry: RetryOptions;
  readonly random: () => number;
  /** Download-wide signal: pause, cancel, or another worker's fatal error. */
  readonly signal: AbortSignal;
  /** The probe's answer for this segment (a 200 in stream mode, a 206 for segment 0), read instead of a first request. */
  firstResponse: Response | undefined;
  /**
   * Called with each chunk handed to storage and its offset in the file; must not block, and must not keep
   * or change the chunk beyond reading it (hash on arrival reads it).
   */
  readonly onBytes: (chunk: Uint8Array, offset: number) => void;
  /** Called with the time (ms) from sending a request to its response headers. */
  readonly onFirstByte: (ms: number) => void;
  /**
   * Told of each failed attempt when the file has several sources (`disagrees`: the answer contradicts the
   * file: size, validator). `leave`: stop here, the segment's rest goes to another source (the scheduler
   * takes it back); `retry`: as without sources (backoff, then again; a disagreement is then final).
   */
  readonly onFailure?: ((failure: SourceAttemptFailure) => "leave" | "retry") | undefined;
  /** Told the validators of each accepted range answer (a mirror learns its own ETag from its first). */
  readonly onValidators?: ((etag: string | undefined, lastModified: string | undefined) => void) | undefined;
  readonly log: Logger;
}

/**
 * Fetches the missing bytes of `job.activity.segment` into its writer, retrying per the policy and always
 * continuing from the next missing byte. Stops at the segment's current `end`, which may shrink while it runs
 * (work stealing). In stream mode (no Range support) a retry re-reads the whole body and skips the bytes
 * already stored, accepting it only if the validator is unchanged. Throws a `DlmError` when retries are
 * spent or the failure is final, and the download-wide abort reason when `job.signal` aborts.
 */
export async function fetchSegment(job: SegmentJob): Promise<void> {
  const { activity } = job;
  const segment = activity.segment;
  let failures = 0;
  while (
    job.mode === "stream" ? segment.end !== segment.start + segment.done - 1 : remainingOf(segment) > 0
  ) {
    const before = segment.done;
    activity.attempt = new AbortController();
    activity.lastByteAt = job.ctx.monotonic();
    const signal = AbortSignal.any([job.signal, activity.attempt.signal]);
    let failure: FailureKind;
    try {
      const outcome = await attemptOnce(job, signal);
      if (outcome.kind === "none" || outcome.kind === "leave") return;
      // A renewed link: ask the new target for the same missing bytes at once (refresh.ts bounds how often).
      if (outcome.kind === "refreshed") continue;
      failure = outcome;
    } catch (error) {
      if (job.signal.aborted) throw job.signal.reason;
      if (activity.attempt.signal.reason instanceof SlowRestart) {
        job.log.info("restarting slow connection of {segment}", {
          worker: activity.worker,
          segment: segment.id,
        });
        continue;
      }
      if (activity.attempt.signal.reason instanceof StallAbort) {
        failure = { kind: "stall" };
      } else if (error instanceof NetworkError) {
        failure = { kind: "network", reason: error.reason, cause: error };
      } else {
        // DlmErrors are final (changed remote, storage); anything else is a bug, not a network failure.
        throw error;
      }
    }
    // Another source may take the rest at once (this one is limited, waiting, demoted or dropped).
    if (job.onFailure?.(failure) === "leave") return;
    // A connection that made progress resets the count: a flaky link that keeps moving should finish.
    const progressed = segment.done > before;
    failures = progressed ? 1 : failures + 1;
    const decision = afterProgress(
      decideRetry(failure, failures, job.retry, job.ctx.now(), job.random),
      failure,
      progressed,
    );
    const where = `segment ${segment.id} at offset ${nextOffsetOf(segment)} of ${job.remote.url}`;
    if (!decision.retry) throw finalError(failure, where, decision.reason, job, segment);
    activity.state = "retrying";
    activity.retries++;
    job.log.info("retrying {segment} after {failure}", {
      worker: activity.worker,
      segment: segment.id,
      offset: nextOffsetOf(segment),
      failure: describeFailure(failure),
      delay_ms: Math.round(decision.delayMs),
      attempt: failures + 1,
    });
    await sleep(decision.delayMs, job.signal);
    activity.state = "active";
  }
}

type AttemptOutcome =
  | FailureKind
  | { readonly kind: "none" }
  | { readonly kind: "refreshed" }
  | { readonly kind: "leave" };

async function attemptOnce(job: SegmentJob, signal: AbortSignal): Promise<AttemptOutcome> {
  const segment = job.activity.segment;
  // What this request asks for: a steal may shrink segment.end while it is in flight, and the answer must be
  // checked against the request, not against the new end (the body loop stops at the new end anyway).
  const asked = { start: nextOffsetOf(segment), end: segment.end };
  const sentAt = job.ctx.monotonic();
  const first = job.firstResponse;
  job.firstResponse = undefined;
  const response = first ?? (await request(job, signal));
  if (first === undefined) job.onFirstByte(job.ctx.monotonic() - sentAt);
  const checked = job.mode === "range" ? checkRange(job, response, asked) : checkStream(job, response);
  const problem = checked === "superset" ? undefined : checked;
  if (problem !== undefined) {
    if (problem.kind === "status" && job.refresh !== undefined) {
      const fresh = await job.refresh.afterRefusal(job.remote, response, job.signal);
      if (fresh !== undefined) {
        job.remote = fresh;
        return { kind: "refreshed" };
      }
    } else await discardBody(response);
    if (problem.kind === "changed" && job.onFailure !== undefined) {
      const reason = `${problem.what} ${problem.actual}, expected ${problem.expected}`;
      if (job.onFailure({ kind: "disagrees", reason }) === "leave") return { kind: "leave" };
    }
    return toFailure(problem, job, segment);
  }
  if (job.mode === "range")
    job.onValidators?.(
      response.headers.get("etag") ?? undefined,
      response.headers.get("last-modified") ?? undefined,
    );
  // A 206 running past the asked end: keep what was asked, then close this connection (see response-check).
  const superset = checked === "superset";
  const activity = job.activity;
  // In stream mode a retry starts at byte 0: skip what is already stored.
  let skip = job.mode === "stream" ? segment.done : 0;
  /** Hands the bytes of `chunk` that the segment still wants (its end may have moved) to storage. */
  const store = (chunk: Uint8Array): Promise<void> | undefined => {
    const room = segment.end - nextOffsetOf(segment) + 1;
    const wanted = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
    if (wanted.length === 0) return undefined;
    const offset = nextOffsetOf(segment);
    const pending = job.writer.write(wanted);
    segment.done += wanted.length;
    job.onBytes(wanted, offset);
    return pending;
  };
  /** "stop" once the segment wants nothing more of this answer (a steal moved its end, a superset answer). */
  const rest = (): "more" | "stop" => {
    const unwanted =
      job.mode === "range" && remainingOf(segment) === 0 && (segment.end !== asked.end || superset);
    return unwanted ? "stop" : "more";
  };
  const onChunk = (value: Uint8Array): ChunkVerdict => {
    const now = job.ctx.monotonic();
    activity.lastByteAt = now;
    activity.received += value.length;
    let chunk = value;
    if (skip > 0) {
      const dropped = Math.min(skip, chunk.length);
      skip -= dropped;
      chunk = chunk.subarray(dropped);
    }
    // A speed limit holds the chunk until it is paid for, then stores it, and only then reads on: the socket
    // buffers fill and TCP slows the sender. Storing after the wait keeps the download's own pace honest
    // (fetch reads a few hundred KiB ahead per connection, which would otherwise land at once). The stall
    // clock starts after the wait: a throttled connection is not a stalled one.
    const wait = job.limits.length === 0 ? 0 : takeFromAll(job.limits, value.length, now);
    if (wait > 0) {
      // Nothing of it is wanted (a steal moved the end before it): charged, since it crossed the link, but
      // not waited for, and this answer is read no further.
      if (rest() === "stop") return "stop";
      activity.lastByteAt = now + wait;
      // After the wait the end may have moved (a steal meanwhile): then the rest of this answer is dropped
      // at once. Read on, it would be charged to the limit chunk by chunk and thrown away.
      return waitForLimits(job, wait, signal).then(async () => {
        await store(chunk);
        return rest();
      });
    }
    const pending = store(chunk);
    // The whole answer arrived: let the body end by itself, so the connection can be reused. A steal that
    // moved the end means the rest of this response is not wanted: drop it (after this write settles).
    return pending === undefined ? rest() : pending.then(rest);
  };

  if ((await readBody(response, onChunk, signal)) === "stopped") return { kind: "none" };
  if (job.mode === "stream") {
    if (job.remote.totalBytes === undefined) {
      segment.end = segment.start + segment.done - 1;
      return { kind: "none" };
    }
    if (segment.done === job.remote.totalBytes) return { kind: "none" };
  } else if (remainingOf(segment) === 0) {
    return { kind: "none" };
  }
  return { kind: "bad-response", reason: `body ended early at offset ${nextOffsetOf(segment)}` };
}

async function request(job: SegmentJob, signal: AbortSignal): Promise<Response> {
  const segment = job.activity.segment;
  const common = {
    headers: job.headers,
    credentialOrigin: job.credentialOrigin,
    headTimeoutMs: job.headTimeoutMs,
    signal,
  };
  if (job.mode === "stream") return httpGet(job.ctx, job.remote.url, common);
  const etag = job.remote.etag;
  return httpGet(job.ctx, job.remote.url, {
    ...common,
    range: { start: nextOffsetOf(segment), end: segment.end },
    ifRange: etag !== undefined && isStrongEtag(etag) ? etag : undefined,
  });
}

function checkRange(
  job: SegmentJob,
  response: Response,
  asked: { readonly start: number; readonly end: number },
): RangeCheckFailure | "superset" | undefined {
  const result = checkRangeResponse(response, {
    start: asked.start,
    end: asked.end,
    total: job.remote.totalBytes,
    etag: job.remote.etag,
    lastModified: job.remote.lastModified,
  });
  if (!result.ok) return result.failure;
  return result.surplus === undefined ? undefined : "superset";
}

function checkStream(job: SegmentJob, response: Response): RangeCheckFailure | undefined {
  if (response.status !== 200) {
    const retryAfter = response.headers.get("retry-after") ?? undefined;
    return { kind: "status", status: response.status, ...(retryAfter === undefined ? {} : { retryAfter }) };
  }
  const etag = response.headers.get("etag") ?? undefined;
  if (job.remote.etag !== undefined && etag !== undefined && etag !== job.remote.etag) {
    return { kind: "changed", what: "etag", expected: job.remote.etag, actual: etag };
  }
  return undefined;
}

function toFailure(problem: RangeCheckFailure, job: SegmentJob, segment: Segment): FailureKind {
  if (problem.kind === "changed") {
    throw new RemoteChangedError(
      `${job.remote.url} changed while downloading (${problem.what} was ${problem.expected}, now ${problem.actual})`,
      {
        url: job.remote.url,
        segment: segment.id,
        expected: problem.expected,
        actual: problem.actual,
        hint: "rerun with --restart",
      },
    );
  }
  // An ignored range is retried too: a server that honoured Range at the probe may flap.
  return problem;
}

function finalError(
  failure: FailureKind,
  where: string,
  reason: string,
  job: SegmentJob,
  segment: Segment,
): DlmError {
  const fields = { url: job.remote.url, segment: segment.id, offset: nextOffsetOf(segment) };
  const message = `${where}: ${describeFailure(failure)} (${reason})`;
  if (failure.kind === "status") {
    return new HttpStatusError(message, {
      ...fields,
      status: failure.status,
      retryAfter: failure.retryAfter,
    });
  }
  if (failure.kind === "ignored-range") return new RangeNotSupportedError(message, fields);
  if (failure.kind === "network")
    return new NetworkError(message, { ...fields, reason: failure.reason, cause: failure.cause });
  return new NetworkError(message, { ...fields, reason: failure.kind === "stall" ? "timeout" : "protocol" });
}

/**
 * A connection that was delivering and then broke (reset, stall) is asked again at once, if it is asked
 * again at all (`--retries` still counts): the cut says nothing about the server's health, and on a short
 * download half a second of backoff is a tenth of the time. Failures without progress keep their backoff,
 * statuses their policy (Retry-After).
 */
export function afterProgress(
  decision: RetryDecision,
  failure: FailureKind,
  progressed: boolean,
): RetryDecision {
  if (!decision.retry || !progressed) return decision;
  return failure.kind === "network" || failure.kind === "stall" ? { retry: true, delayMs: 0 } : decision;
}

/** Longest a paced read sleeps before it looks at its buckets again (see waitForLimits). */
const LIMIT_RECHECK_MS = 100;

/**
 * Waits until the buckets' debt is repaid, looking at them again at least every LIMIT_RECHECK_MS: a limit
 * lifted or raised meanwhile (`Update`, `dlm limit`) takes effect at once, instead of after a wait worked
 * out under the old one (at 64 KiB/s a 300 KiB loopback read owes almost 5 s). The stall clock follows.
 */
async function waitForLimits(job: SegmentJob, wait: number, signal: AbortSignal): Promise<void> {
  // This read's place in each bucket's debt: later reads of other connections queue behind it.
  const marks = job.limits.map((bucket) => bucket.debtEnd());
  let remaining = wait;
  while (remaining > 0) {
    await sleep(Math.min(remaining, LIMIT_RECHECK_MS), signal);
    const now = job.ctx.monotonic();
    remaining = delayUntilAll(job.limits, marks, now);
    job.activity.lastByteAt = now + remaining;
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
