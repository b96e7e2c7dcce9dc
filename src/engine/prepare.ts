import { lstatSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import {
  IntegrityError,
  OutputExistsError,
  RangeNotSupportedError,
  RemoteChangedError,
  StorageError,
  UsageError,
} from "../errors.ts";
import type { DownloadRequest } from "./download-request.ts";
import { discardBody } from "./http.ts";
import { chooseOutputName } from "./output-name.ts";
import { piecesMismatch } from "./piece-hashes.ts";
import { planSegments } from "./plan.ts";
import { type ProbeResult, probe } from "./probe.ts";
import { mainSource, probeSources, type SourceCandidate } from "./probe-sources.ts";
import type { RemoteFile } from "./remote-file.ts";
import { isStrongEtag } from "./response-check.ts";
import { withRetries } from "./retry-loop.ts";
import { storedSampleDiffers } from "./same-file.ts";
import type { Segment } from "./segment.ts";
import { checkSidecarTrust } from "./sidecar-trust.ts";
import type { Source } from "./source.ts";
import {
  type DownloadStateFile,
  readStateFile,
  type SavedMirror,
  STATE_VERSION,
  statePath,
} from "./state-file.ts";
import { allocatedBytes, bytesToWrite, ensureFreeSpace } from "./storage/free-space.ts";
import { guardStorage } from "./storage/storage-error.ts";

/** A download ready to run: where it goes, what the server said, and the segments still to fetch. */
export interface PreparedDownload {
  readonly request: DownloadRequest;
  readonly output: string;
  readonly sidecar: string;
  readonly remote: RemoteFile;
  /**
   * Where the file can be fetched from: source 0 is the URL given (describing `remote`), then the mirrors
   * (--mirror, state.json, Link: rel=duplicate, a Metalink) whose probe agreed on the size. Only source 0 in
   * stream mode.
   */
  readonly sources: readonly Source[];
  /** Whether bytes from an earlier run are being continued. */
  readonly resumed: boolean;
  /** Ranges are fetched concurrently; otherwise one whole-file stream. */
  readonly mode: "range" | "stream";
  /** Inclusive output slice [first, last] within the remote file; last undefined when the size is unknown. */
  readonly first: number;
  readonly last: number | undefined;
  readonly segments: Segment[];
  readonly state: DownloadStateFile;
  /** The probe's 200 response, reusable as the stream body. */
  fullResponse: Response | undefined;
  /** The probe's 206 response carrying segment 0 (see `ProbeResult.headResponse`), taken by worker 0. */
  headResponse: Response | undefined;
}

/**
 * Bytes the probe asks for when several connections may follow: a file this small arrives in the probe's
 * answer (one request in all), a larger one gets its first segment from it. With one connection the probe
 * asks for the whole file (`bytes=0-`): its answer is the download.
 */
export const PROBE_FIRST_BYTES = 1 << 20;

/** The origin the user's credentials (`-H Authorization/Cookie`, URL userinfo) were given for. */
export function credentialOriginOf(request: DownloadRequest): string {
  return new URL(request.url).origin;
}

function dropBody(probed: ProbeResult): void {
  if (probed.fullResponse !== undefined) void discardBody(probed.fullResponse);
  if (probed.headResponse !== undefined) void discardBody(probed.headResponse.response);
}

/**
 * What the probe asks for: one byte when its answer cannot be the download's first bytes (a known
 * sidecar is continued, or a slice starts elsewhere), else see PROBE_FIRST_BYTES.
 */
function probeFirstBytes(request: DownloadRequest, resuming: boolean): number | "all" {
  if (resuming || request.rangeStart !== undefined || request.rangeEnd !== undefined) return 1;
  return request.connections <= 1 ? "all" : PROBE_FIRST_BYTES;
}

/** Sidecar directory of an output path. */
export function sidecarOf(output: string): string {
  return `${output}.dlm`;
}

/**
 * Probes the server, names the output, and either plans a fresh download or validates and continues the
 * one recorded in `OUTPUT.dlm/state.json` (re-probing to check the remote file did not change).
 */
export async function prepareDownload(
  ctx: Context,
  request: DownloadRequest,
  signal: AbortSignal,
  log: Logger,
): Promise<PreparedDownload> {
  let output = request.output === undefined ? undefined : resolve(ctx.cwd, request.output);
  // A named output that exists fails before any network I/O.
  if (output !== undefined && !request.force && lexists(output)) throw outputExists(output);
  // Whether the last look found no sidecar at all: then a fresh plan has nothing to clear away.
  const seen: SidecarSeen = { absent: false };
  let saved = output === undefined ? undefined : await existingState(output, request.restart, seen);
  if (saved !== undefined && saved.url !== request.url)
    throw foreignSidecar(output ?? "", saved.url, request.url);
  const probed = await withRetries(ctx, request.retry, signal, log, "probe", () =>
    probe(ctx, saved?.url ?? request.url, {
      headers: request.headers,
      credentialOrigin: credentialOriginOf(request),
      headTimeoutMs: request.stallTimeoutMs,
      signal,
      firstBytes: probeFirstBytes(request, saved !== undefined && !request.restart),
    }),
  );
  if (output === undefined) {
    output = resolve(
      ctx.cwd,
      chooseOutputName(request.url, probed.remote.url, probed.remote.dispositionName),
    );
    saved = await existingState(output, request.restart, seen);
    if (saved !== undefined && saved.url !== request.url)
      throw foreignSidecar(output, saved.url, request.url);
  }
  if (!request.force && lexists(output)) {
    dropBody(probed);
    throw outputExists(output);
  }
  const pieces = request.pieceHashes;
  const total = probed.remote.totalBytes;
  const wrongPieces = pieces === undefined || total === undefined ? undefined : piecesMismatch(pieces, total);
  if (wrongPieces !== undefined) {
    // The pieces describe another file than the one the server has: nothing it sends could pass.
    dropBody(probed);
    throw new IntegrityError(
      `${probed.remote.url} is ${total} bytes: not the file described (${wrongPieces})`,
      {
        url: probed.remote.url,
        file: output,
      },
    );
  }
  const resuming = saved !== undefined && !request.restart;
  // The mirrors are probed while the output is planned: they only need the main probe's answer.
  const sources = learnSources(ctx, request, probed, resuming ? saved?.mirrors : undefined, signal, log);
  sources.catch(() => undefined);
  try {
    const prepared =
      saved !== undefined && !request.restart
        ? await continueSaved(ctx, request, output, saved, probed, signal)
        : await planFresh(ctx, request, output, probed, seen.absent);
    const learnt = prepared.mode === "range" ? await sources : [mainSource(request, probed.remote)];
    const mirrors = learnt.slice(1).map(savedMirror);
    const { mirrors: _old, ...rest } = prepared.state;
    return {
      ...prepared,
      sources: learnt,
      state: mirrors.length === 0 ? rest : { ...rest, mirrors },
    };
  } catch (error) {
    // An open body of the probe must not hold its connection until it is collected.
    dropBody(probed);
    throw error;
  }
}

/**
 * The download's sources (see `probeSources`): the mirrors saved by an earlier run first (checked against
 * their saved validators), then those asked for (`request.mirrors`), then the main answer's
 * `Link: rel=duplicate` headers unless `request.noLinkMirrors`. Only source 0 when the main URL does not
 * serve ranges of a known size (one stream has nothing to share).
 */
async function learnSources(
  ctx: Context,
  request: DownloadRequest,
  probed: ProbeResult,
  saved: readonly SavedMirror[] | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<Source[]> {
  const { remote } = probed;
  if (!remote.acceptsRanges || remote.totalBytes === undefined) {
    if ((request.mirrors ?? []).length > 0 || (saved ?? []).length > 0) {
      log.warn("not using the mirrors: {url} does not serve byte ranges of a known size", {
        url: remote.url,
      });
    }
    return [mainSource(request, remote)];
  }
  const candidates: SourceCandidate[] = [
    ...(saved ?? []).map((m) => ({
      given: m.given,
      from: "state.json",
      priority: m.priority,
      maxConnections: m.maxConnections,
      saved: { etag: m.etag, lastModified: m.lastModified },
    })),
    ...(request.mirrors ?? []).map((given) => ({ given, from: "--mirror" })),
    ...(request.noLinkMirrors === true ? [] : (probed.duplicates ?? [])).map((link) => ({
      given: link.url,
      from: "Link: rel=duplicate",
      priority: link.priority,
    })),
  ];
  if (candidates.length === 0) return [mainSource(request, remote)];
  return probeSources(ctx, request, remote, candidates, signal, log);
}

/** How state.json keeps a mirror (see `SavedMirror`). */
function savedMirror(source: Source): SavedMirror {
  return {
    given: source.given,
    ...(source.etag === undefined ? {} : { etag: source.etag }),
    ...(source.lastModified === undefined ? {} : { lastModified: source.lastModified }),
    ...(source.priority === undefined ? {} : { priority: source.priority }),
    ...(source.maxConnections === undefined ? {} : { maxConnections: source.maxConnections }),
  };
}

/** The sidecar belongs to another URL: resuming it would fetch the wrong thing, restarting would lose it. */
function foreignSidecar(output: string, savedUrl: string, url: string): UsageError {
  return new UsageError(
    `${sidecarOf(output)} holds an unfinished download of ${savedUrl}, not ${url}; use --restart to replace it, or another -o`,
    { file: output, url, expected: savedUrl, actual: url },
  );
}

/**
 * A size past 2^53 - 1 bytes (8 PiB) cannot be counted exactly in a JavaScript number, so no offset or range
 * dlm computed would be right. It is a StorageError (exit 5), like a file too big for the free space: the
 * file cannot be kept here, whatever the network does; retrying or another flag would not help.
 */
function tooLarge(url: string, output: string, total: number): StorageError {
  // BigInt prints the integer a double holds in full ("1152921504606846976", not "1.152921504606847e18").
  const bytes = Number.isInteger(total) ? BigInt(total).toString() : String(total);
  return new StorageError(
    `cannot write ${output}: ${url} says the file is ${bytes} bytes, beyond the 2^53 - 1 bytes (8 PiB) dlm can address`,
    { file: output, url, actual: bytes },
  );
}

/** What `dlm get` says to do about an existing output. */
const FORCE_HINT = "use --force to overwrite it";

function outputExists(output: string): OutputExistsError {
  // The remedy is the caller's (`dlm get --force`; the manager has its own): a hint, not the message.
  return new OutputExistsError(`${output} already exists`, { file: output, hint: FORCE_HINT });
}

/**
 * The state of an unfinished download of `output`, if its sidecar holds one; a sidecar this user did not make
 * is refused (StateFileError) whether or not it holds a state. `--restart` looks at nothing: it replaces.
 */
async function existingState(
  output: string,
  restart: boolean,
  seen: SidecarSeen,
): Promise<DownloadStateFile | undefined> {
  const sidecar = sidecarOf(output);
  seen.absent = false;
  if (restart) return undefined;
  if (!lexists(sidecar)) {
    seen.absent = true;
    return undefined;
  }
  if (lexists(statePath(sidecar))) return readStateFile(sidecar);
  await checkSidecarTrust(sidecar);
  return undefined;
}

/**
 * Whether anything (a link included, not followed) is at `path`. Asked on this thread: a lookup takes the
 * kernel microseconds, while a trip through Bun's thread pool (2 threads on 2 cores) waits behind other
 * files' fsyncs and then for this thread's next turn: 3 ms a trip in the median in a batch of 200 files,
 * each one on the way to the file's first request (bench/README.md, "Where a batch file's time goes").
 */
function lexists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** What existingState saw of the sidecar: `absent` when nothing at all was at its name. */
interface SidecarSeen {
  absent: boolean;
}

/** A prepared download before its sources are known. */
type Planned = Omit<PreparedDownload, "sources">;

async function planFresh(
  ctx: Context,
  request: DownloadRequest,
  output: string,
  probed: ProbeResult,
  sidecarAbsent: boolean,
): Promise<Planned> {
  const { remote } = probed;
  const sliced = request.rangeStart !== undefined || request.rangeEnd !== undefined;
  const mode = remote.acceptsRanges && remote.totalBytes !== undefined ? "range" : "stream";
  if (sliced && mode === "stream") {
    dropBody(probed);
    throw new RangeNotSupportedError(
      `${remote.url} does not honour Range requests (it answered 200 with the whole file): cannot fetch a slice`,
      { url: remote.url },
    );
  }
  const total = remote.totalBytes;
  if (total !== undefined && !Number.isSafeInteger(total)) {
    dropBody(probed);
    throw tooLarge(remote.url, output, total);
  }
  const first = request.rangeStart ?? 0;
  const last = total === undefined ? undefined : Math.min(request.rangeEnd ?? total - 1, total - 1);
  if (sliced && total !== undefined && first >= total) {
    throw new UsageError(`--range-start: ${first} is beyond the end of ${remote.url} (${total} bytes)`, {
      flag: "--range-start",
      input: String(first),
    });
  }
  // One pending range: workers carve segments off its front in file order (see nextSegmentBytes); when the
  // probe's answer carries the first bytes, they are segment 0 and the pending range starts after them.
  const head = mode === "range" && !sliced ? probed.headResponse : undefined;
  if (head === undefined && probed.headResponse !== undefined) void discardBody(probed.headResponse.response);
  const segments =
    mode === "range" && last !== undefined
      ? head === undefined
        ? planSegments(first, last, 1, request.minSplitBytes)
        : [
            { id: 0, start: 0, end: head.last, done: 0 },
            ...planSegments(head.last + 1, last, 1, request.minSplitBytes).map((s) => ({ ...s, id: 1 })),
          ]
      : [{ id: 0, start: 0, end: total === undefined ? Number.MAX_SAFE_INTEGER - 1 : total - 1, done: 0 }];
  const sidecar = sidecarOf(output);
  // rm removes a link itself, never what it points to; what it frees counts as free below. Nothing to remove
  // when the lookup before the probe found nothing there (every file of a fresh batch): should something
  // take the name meanwhile, the mkdir below fails (EEXIST) instead of removing it.
  if (!sidecarAbsent)
    await guardStorage(sidecar, "create", () => rm(sidecar, { recursive: true, force: true }));
  // Made on this thread, as lexists looks (see there): microseconds each, on the way to the first byte.
  if (last !== undefined) {
    await guardStorage(dirname(sidecar), "create", () => mkdirSync(dirname(sidecar), { recursive: true }));
    const plan = { storage: request.storage, outputBytes: last - first + 1, storedBytes: 0 };
    await ensureFreeSpace(dirname(sidecar), bytesToWrite(plan), output).catch((error: unknown) => {
      dropBody(probed);
      throw error;
    });
  }
  await guardStorage(sidecar, "create", async () => {
    // Not recursive: if anything took the name meanwhile it fails (EEXIST) rather than adopt it. 0700: the
    // sidecar is this user's alone (DESIGN "Trust").
    // Its parent was made above when the size is known (the free-space check needs it).
    if (last === undefined) mkdirSync(dirname(sidecar), { recursive: true });
    mkdirSync(sidecar, { mode: 0o700 });
  });
  const now = new Date(ctx.now()).toISOString();
  const state: DownloadStateFile = {
    version: STATE_VERSION,
    url: request.url,
    output,
    ...(total === undefined ? {} : { totalBytes: total }),
    ...(sliced && last !== undefined ? { slice: { start: first, end: last } } : {}),
    acceptsRanges: mode === "range",
    validator: validatorOf(remote),
    ...(request.checksum === undefined
      ? {}
      : { checksum: { algorithm: request.checksum.algorithm, hex: request.checksum.hex } }),
    ...(request.pieceHashes === undefined ? {} : { pieces: request.pieceHashes }),
    storage: request.storage,
    segments,
    createdAt: now,
    updatedAt: now,
  };
  return {
    request,
    output,
    sidecar,
    remote,
    resumed: false,
    mode,
    first,
    last,
    segments,
    state,
    fullResponse: probed.fullResponse,
    headResponse: head?.response,
  };
}

async function continueSaved(
  ctx: Context,
  request: DownloadRequest,
  output: string,
  saved: DownloadStateFile,
  probed: ProbeResult,
  signal: AbortSignal,
): Promise<Planned> {
  const { remote } = probed;
  const change = describeChange(saved, remote);
  if (change !== undefined) {
    dropBody(probed);
    throw new RemoteChangedError(
      `${remote.url} changed since the download started (${change}); rerun with --restart`,
      {
        url: remote.url,
        file: output,
        hint: "rerun with --restart to discard the old parts",
      },
    );
  }
  const mode = saved.acceptsRanges ? "range" : "stream";
  const segments = saved.segments.map((s) => ({ ...s }));
  const first = saved.slice?.start ?? 0;
  const last = saved.slice?.end ?? (saved.totalBytes === undefined ? undefined : saved.totalBytes - 1);
  const checksum =
    request.checksum === undefined
      ? saved.checksum
      : { algorithm: request.checksum.algorithm, hex: request.checksum.hex };
  const pieces = request.pieceHashes ?? saved.pieces;
  const state: DownloadStateFile = {
    ...saved,
    ...(checksum === undefined ? {} : { checksum }),
    ...(pieces === undefined ? {} : { pieces }),
  };
  if (last !== undefined) {
    const sidecar = sidecarOf(output);
    const storedBytes =
      saved.storage === "in-place"
        ? await allocatedBytes(join(sidecar, "data"))
        : segments.reduce((sum, s) => sum + s.done, 0);
    const plan = { storage: saved.storage, outputBytes: last - first + 1, storedBytes };
    await ensureFreeSpace(sidecar, bytesToWrite(plan), output).catch((error: unknown) => {
      dropBody(probed);
      throw error;
    });
  }
  if (mode === "range") dropBody(probed);
  else if (probed.headResponse !== undefined) void discardBody(probed.headResponse.response);
  // A link that redirects was minted anew (a signed URL): like a refresh, its target must hold the bytes
  // already stored, which validators alone do not prove (a careless server keeps size and ETag). One range
  // request, only for such links: a direct URL's resume stays one probe (docs/expiring-links.md).
  if (mode === "range" && remote.url !== request.url) {
    const http = {
      headers: request.headers,
      credentialOrigin: credentialOriginOf(request),
      headTimeoutMs: request.stallTimeoutMs,
      signal,
    };
    const why = await storedSampleDiffers(ctx, sidecarOf(output), saved, remote.url, http);
    if (why !== undefined) {
      throw new RemoteChangedError(
        `${request.url} now leads to another file (${why}); the partial data is kept; rerun with --restart`,
        { url: remote.url, file: output, hint: "rerun with --restart to discard the old parts" },
      );
    }
  }
  return {
    request: { ...request, storage: saved.storage, ...(pieces === undefined ? {} : { pieceHashes: pieces }) },
    output,
    sidecar: sidecarOf(output),
    remote,
    resumed: true,
    mode,
    first,
    last,
    segments,
    state,
    fullResponse: mode === "stream" ? probed.fullResponse : undefined,
    headResponse: undefined,
  };
}

/** Why the remote file is not the one in the state file, or undefined when it is the same. */
export function describeChange(saved: DownloadStateFile, remote: RemoteFile): string | undefined {
  if (saved.totalBytes !== undefined && remote.totalBytes !== saved.totalBytes) {
    return `size was ${saved.totalBytes}, now ${remote.totalBytes ?? "unknown"}`;
  }
  const { etag, lastModified } = saved.validator;
  if (etag !== undefined && isStrongEtag(etag)) {
    return remote.etag === etag ? undefined : `ETag was ${etag}, now ${remote.etag ?? "absent"}`;
  }
  if (lastModified !== undefined && remote.lastModified !== lastModified) {
    return `Last-Modified was ${lastModified}, now ${remote.lastModified ?? "absent"}`;
  }
  return undefined;
}

function validatorOf(remote: RemoteFile): DownloadStateFile["validator"] {
  return {
    ...(remote.etag === undefined ? {} : { etag: remote.etag }),
    ...(remote.lastModified === undefined ? {} : { lastModified: remote.lastModified }),
  };
}
