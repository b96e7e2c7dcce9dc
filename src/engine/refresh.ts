import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { DlmError, HttpStatusError, NetworkError, RemoteChangedError } from "../errors.ts";
import { discardBody, httpGet, readBody } from "./http.ts";
import { EXPIRY_BODY_BYTES, isExpiryAnswer, mayBeExpiry } from "./link-expiry.ts";
import { probe } from "./probe.ts";
import { runRefreshCommand } from "./refresh-cmd.ts";
import type { RemoteFile } from "./remote-file.ts";
import { isStrongEtag } from "./response-check.ts";
import { assertFetchableUrl } from "./url-scheme.ts";

/** Refreshes allowed within REFRESH_WINDOW_MS; one more is an error (a link that keeps dying is not a link). */
export const MAX_REFRESHES_PER_WINDOW = 10;

/** The window MAX_REFRESHES_PER_WINDOW counts over (ms). */
export const REFRESH_WINDOW_MS = 60_000;

/** Bytes already on disk compared with the fresh target's (the same-file check's sample). */
export const SAMPLE_BYTES = 64 * 1024;

/** Bytes already stored, read back for the same-file check. */
export interface StoredSample {
  /** Offset of the first byte in the remote file. */
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** What a LinkRefresher needs to resolve a link again. */
export interface RefreshOptions {
  readonly ctx: Context;
  /** The URL as given (Source.given): resolved again from here when its target expires. */
  readonly given: string;
  /** What the probe learnt: the target in use until the first refresh. */
  readonly remote: RemoteFile;
  readonly headers: readonly (readonly [string, string])[];
  /** Origin the credentials among `headers` were given for: never sent elsewhere (see httpGet). */
  readonly credentialOrigin: string;
  readonly headTimeoutMs: number;
  /** The output path (told to a refresh command). */
  readonly output: string;
  /** `--refresh-cmd` argv: asked for the fresh URL instead of resolving `given` again. */
  readonly command?: readonly string[] | undefined;
  /** Reads up to SAMPLE_BYTES already stored; undefined when nothing is stored yet. */
  readonly sample: () => Promise<StoredSample | undefined>;
  readonly log: Logger;
  /** See MAX_REFRESHES_PER_WINDOW. */
  readonly maxPerWindow?: number | undefined;
  /** The source this refresher renews (for logs); 0 when absent. */
  readonly source?: number | undefined;
  /**
   * A mirror's: asked when its refresh fails for good (another file, refreshes spent, the given URL refused);
   * true (other sources remain) gives this source up (`gone`) instead of failing the download. Absent (source
   * 0, the URL the user gave): such a failure stops the download, as the file it names is the one wanted.
   */
  readonly mayDrop?: (() => boolean) | undefined;
}

/**
 * Keeps one source's signed link alive: when its redirect target answers 401/403/404/410 (or a 400 that says
 * the signature expired), the URL the user gave is resolved again (or `--refresh-cmd` asked), the new target
 * is checked to be the same file (size, a strong ETag where both have one, and SAMPLE_BYTES already on disk
 * fetched again and compared), and workers continue there with only their missing bytes. Workers that hit
 * the expiry together share one refresh (single-flight); a worker whose dead URL was already replaced gets
 * the replacement at once. Bounded: MAX_REFRESHES_PER_WINDOW per REFRESH_WINDOW_MS, then an HttpStatusError.
 * A target that is another file is a RemoteChangedError (the bytes on disk are kept, nothing is mixed).
 */
export class LinkRefresher {
  readonly #options: RefreshOptions;
  #current: RemoteFile;
  /** The target after the first successful refresh; undefined until then. */
  #renewed: RemoteFile | undefined;
  /** Why this source was given up (see RefreshOptions.mayDrop), and the error it would have been. */
  #gone: DlmError | undefined;
  /** What told the last renewed target apart from the file (for `gone`). */
  #difference = "";
  #inflight: Promise<RemoteFile | undefined> | undefined;
  readonly #times: number[] = [];
  #count = 0;

  constructor(options: RefreshOptions) {
    this.#options = options;
    this.#current = options.remote;
  }

  /** The target in use now. */
  get current(): RemoteFile {
    return this.#current;
  }

  /** The target a refresh found, undefined while the first one is still in use (its validators stay the caller's). */
  get renewed(): RemoteFile | undefined {
    return this.#renewed;
  }

  /** Why this source was given up (its refresh failed for good and `mayDrop` allowed it), else undefined. */
  get gone(): string | undefined {
    const gone = this.#gone;
    if (gone === undefined) return undefined;
    // Kept short for the drop's log line: the rest (--restart, partial data) is about the download, not a mirror.
    if (gone instanceof RemoteChangedError)
      return `its renewed link leads to another file (${this.#difference})`;
    return gone.message;
  }

  /** How many refreshes ran (for logs and tests). */
  get count(): number {
    return this.#count;
  }

  /**
   * Called by a worker whose request to `stale.url` was refused with `response` (any status but the one
   * expected). Consumes the body. Returns the target to continue with when the answer means an expired link,
   * undefined when it does not (then it is an ordinary failure) or when this source is `gone` (a mirror the
   * scheduler then drops). Throws RemoteChangedError, or HttpStatusError when refreshes are spent or the given
   * URL no longer works (unless `mayDrop` lets the source go); a NetworkError while refreshing is retryable.
   */
  async afterRefusal(
    stale: RemoteFile,
    response: Response,
    signal: AbortSignal,
  ): Promise<RemoteFile | undefined> {
    const status = response.status;
    if (this.#gone !== undefined) {
      await discardBody(response);
      // The last source left cannot be dropped: its failure is the download's.
      if (this.#options.mayDrop?.() === true) return undefined;
      throw this.#gone;
    }
    const refreshable = this.#options.command !== undefined || stale.url !== this.#options.given;
    if (!refreshable || !mayBeExpiry(status)) {
      await discardBody(response);
      return undefined;
    }
    const body = status === 400 ? await readStart(response, signal) : "";
    if (status !== 400) await discardBody(response);
    if (!isExpiryAnswer(status, body)) return undefined;
    // Another worker already moved on from this URL: follow it, no new refresh.
    if (stale.url !== this.#current.url) return this.#current;
    this.#inflight ??= this.#refreshOrDrop(stale, status, signal).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** #refresh; a mirror whose refresh fails for good is given up instead, when `mayDrop` allows it. */
  async #refreshOrDrop(
    stale: RemoteFile,
    status: number,
    signal: AbortSignal,
  ): Promise<RemoteFile | undefined> {
    try {
      return await this.#refresh(stale, status, signal);
    } catch (error) {
      const final = error instanceof DlmError && !(error instanceof NetworkError) && !signal.aborted;
      if (!final || this.#options.mayDrop?.() !== true) throw error;
      this.#gone = error;
      // The scheduler's drop of the source is the one warning line (download.ts); this says why in detail.
      this.#options.log.debug("giving up source {source} ({url}): {reason}", {
        source: this.#options.source ?? 0,
        url: this.#options.given,
        reason: error.message,
      });
      return undefined;
    }
  }

  async #refresh(stale: RemoteFile, status: number, signal: AbortSignal): Promise<RemoteFile> {
    const o = this.#options;
    const now = o.ctx.monotonic();
    while (this.#times.length > 0 && (this.#times[0] ?? now) <= now - REFRESH_WINDOW_MS) this.#times.shift();
    const most = o.maxPerWindow ?? MAX_REFRESHES_PER_WINDOW;
    if (this.#times.length >= most) {
      throw new HttpStatusError(
        `${stale.url}: HTTP ${status} after the link was renewed ${this.#times.length} times within ${REFRESH_WINDOW_MS / 1000} s; giving up (the data stays for dlm resume ${o.output})`,
        { url: stale.url, status, hint: `the link ${o.given} expires faster than it can be used` },
      );
    }
    this.#times.push(now);
    this.#count++;
    const url =
      o.command === undefined
        ? o.given
        : await runRefreshCommand(
            o.command,
            { url: o.given, output: o.output, expiredUrl: stale.url, status },
            o.ctx.env,
            signal,
          );
    assertFetchableUrl(url, "the renewed link");
    const probed = await probe(o.ctx, url, {
      headers: o.headers,
      credentialOrigin: o.credentialOrigin,
      headTimeoutMs: o.headTimeoutMs,
      signal,
      firstBytes: 1,
    });
    const fresh: RemoteFile = { ...probed.remote, dispositionName: stale.dispositionName };
    const difference = differenceOf(stale, fresh);
    const verdict: SampleVerdict =
      difference === undefined
        ? await this.#compareSample(fresh, signal)
        : { kind: "differs", why: difference };
    // A link that expired again before its sample came back (a very short one, a slow machine) proves
    // nothing about the file: renew once more, within the same bound, keeping the file's identity (`stale`).
    if (verdict.kind === "refused" && isExpiryAnswer(verdict.status, "")) {
      if (probed.fullResponse !== undefined) await discardBody(probed.fullResponse);
      return this.#refresh({ ...stale, url: fresh.url }, verdict.status, signal);
    }
    const why = verdict.kind === "same" ? undefined : verdict.why;
    if (why !== undefined) {
      this.#difference = why;
      throw new RemoteChangedError(
        `${url} now leads to another file (${why}); the partial data is kept; rerun with --restart to start over`,
        { url: fresh.url, file: o.output, hint: "rerun with --restart to discard the old parts" },
      );
    }
    o.log.info("link expired (HTTP {status} from {stale}); continuing at {url}", {
      source: o.source ?? 0,
      status,
      stale: stale.url,
      url: fresh.url,
      refreshes: this.#count,
    });
    this.#current = fresh;
    this.#renewed = fresh;
    return fresh;
  }

  /** Whether the bytes stored are the fresh target's at the same offset (nothing stored: the same). */
  async #compareSample(fresh: RemoteFile, signal: AbortSignal): Promise<SampleVerdict> {
    const o = this.#options;
    const sample = await o.sample();
    if (sample === undefined) return { kind: "same" };
    return compareSample(o.ctx, fresh.url, sample, o, signal);
  }
}

/** How a target's bytes compare with a sample stored: `refused` when it answered another status than 206. */
export type SampleVerdict =
  | { readonly kind: "same" }
  | { readonly kind: "differs"; readonly why: string }
  | { readonly kind: "refused"; readonly status: number; readonly why: string };

/** How the sample check's requests are sent (as the download's own). */
interface SampleHttp {
  readonly headers: readonly (readonly [string, string])[];
  readonly credentialOrigin: string;
  readonly headTimeoutMs: number;
}

/**
 * Fetches the bytes of `sample` again from `url` and says why they differ (another status, fewer bytes,
 * other bytes, compared by SHA-256), or undefined when they are the same. An empty sample proves nothing.
 */
export async function sampleDiffers(
  ctx: Context,
  url: string,
  sample: StoredSample,
  http: SampleHttp,
  signal: AbortSignal,
): Promise<string | undefined> {
  const verdict = await compareSample(ctx, url, sample, http, signal);
  return verdict.kind === "same" ? undefined : verdict.why;
}

/** sampleDiffers, telling a refusal (its status) apart from other bytes. */
export async function compareSample(
  ctx: Context,
  url: string,
  sample: StoredSample,
  http: SampleHttp,
  signal: AbortSignal,
): Promise<SampleVerdict> {
  if (sample.bytes.length === 0) return { kind: "same" };
  const end = sample.offset + sample.bytes.length - 1;
  const response = await httpGet(ctx, url, {
    range: { start: sample.offset, end },
    headers: http.headers,
    credentialOrigin: http.credentialOrigin,
    headTimeoutMs: http.headTimeoutMs,
    signal,
  });
  if (response.status !== 206) {
    await discardBody(response);
    const why = `HTTP ${response.status} for the bytes ${sample.offset}-${end} already stored`;
    return { kind: "refused", status: response.status, why };
  }
  const got = new Uint8Array(sample.bytes.length);
  let filled = 0;
  await readBody(
    response,
    (chunk) => {
      const n = Math.min(chunk.length, got.length - filled);
      got.set(chunk.subarray(0, n), filled);
      filled += n;
      return filled >= got.length ? "stop" : "more";
    },
    signal,
  );
  if (filled !== got.length)
    return {
      kind: "differs",
      why: `only ${filled} of the ${got.length} bytes at ${sample.offset} came back`,
    };
  const a = new Bun.CryptoHasher("sha256").update(got).digest("hex");
  const b = new Bun.CryptoHasher("sha256").update(sample.bytes).digest("hex");
  if (a === b) return { kind: "same" };
  return { kind: "differs", why: `the ${got.length} bytes at ${sample.offset} differ from those on disk` };
}

/** Size or strong ETag that tells two targets apart, or undefined when neither does. */
export function differenceOf(before: RemoteFile, after: RemoteFile): string | undefined {
  if (before.totalBytes !== after.totalBytes)
    return `size was ${before.totalBytes ?? "unknown"}, now ${after.totalBytes ?? "unknown"}`;
  const [a, b] = [before.etag, after.etag];
  // Only strong validators prove sameness or difference (RFC 9110 §8.8.3.2): a weak one may change freely.
  if (a !== undefined && b !== undefined && isStrongEtag(a) && isStrongEtag(b) && a !== b)
    return `ETag was ${a}, now ${b}`;
  return undefined;
}

/** The first EXPIRY_BODY_BYTES of a body as text; the rest is dropped. */
async function readStart(response: Response, signal: AbortSignal): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    await readBody(
      response,
      (chunk) => {
        parts.push(chunk.slice(0, EXPIRY_BODY_BYTES - size));
        size += chunk.length;
        return size >= EXPIRY_BODY_BYTES ? "stop" : "more";
      },
      signal,
    );
  } catch {
    // A body cut short still says what it said so far.
  }
  return new TextDecoder().decode(Buffer.concat(parts));
}
