import { buildCommand } from "@stricli/core";
import { parseChecksum } from "../../../engine/checksum.ts";
import { type DownloadRequest, REQUEST_DEFAULTS } from "../../../engine/download-request.ts";
import { splitCommand } from "../../../engine/refresh-cmd.ts";
import { DEFAULT_RETRY_OPTIONS } from "../../../engine/retry-policy.ts";
import type { StorageKind } from "../../../engine/storage/sink.ts";
import { isUrlLike } from "../../../engine/sums-text.ts";
import { assertFetchableUrl } from "../../../engine/url-scheme.ts";
import { UsageError } from "../../../errors.ts";
import type { ListenAddress } from "../../shared/listener.ts";
import type { CliContext } from "../cli-context.ts";
import { byteOffset, byteSize, durationMs, header, httpUrl, integerIn, outputPath } from "../flag-parsers.ts";
import { type ListenFlags, listenAddress, listenFlags } from "../listen-address.ts";
import { reportError } from "../report.ts";
import { runDownloadCommand } from "../run-download.ts";
import { sourceFlags } from "../source-flags.ts";
import { type BatchFlags, batchFlags, runBatchCommand } from "./get-batch.ts";
import type { MetalinkFlags } from "./get-metalink.ts";

/** Flags of `dlm get`, after parsing. */
export interface GetFlags {
  readonly output?: string;
  readonly connections?: number;
  readonly rangeStart?: number;
  readonly rangeEnd?: number;
  readonly checksum?: ReturnType<typeof parseChecksum> | "auto";
  readonly checksumFile?: string;
  readonly header?: readonly (readonly [string, string])[];
  readonly force?: boolean;
  readonly restart?: boolean;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly storage?: StorageKind;
  readonly stallTimeout?: number;
  readonly retries?: number;
  readonly limit?: number;
  readonly minSplit?: number;
  readonly checkpointInterval?: number;
  readonly refreshCmd?: readonly string[];
  /** More URLs of the same file (--mirror, repeatable). */
  readonly mirror?: readonly string[];
  /** Ignore the mirrors a server names in `Link: rel=duplicate` headers. */
  readonly noMirrors?: boolean;
}

/** Turns parsed flags into a request; checks that need two flags at once (still before any I/O). */
export function requestFromFlags(url: string, flags: GetFlags): DownloadRequest {
  if (flags.rangeStart !== undefined && flags.rangeEnd !== undefined && flags.rangeEnd < flags.rangeStart) {
    throw new UsageError(
      `--range-end: expected an offset >= --range-start (${flags.rangeStart}), got "${flags.rangeEnd}"`,
      { flag: "--range-end", input: String(flags.rangeEnd) },
    );
  }
  if (flags.checksumFile !== undefined && flags.checksum !== undefined) {
    throw new UsageError("--checksum-file: give either --checksum or --checksum-file, not both", {
      flag: "--checksum-file",
      input: flags.checksumFile,
    });
  }
  return {
    url,
    output: flags.output,
    connections: flags.connections ?? REQUEST_DEFAULTS.connections,
    rangeStart: flags.rangeStart,
    rangeEnd: flags.rangeEnd,
    checksum: flags.checksum === "auto" ? undefined : flags.checksum,
    checksumFile: flags.checksumFile,
    checksumAuto: flags.checksum === "auto",
    headers: flags.header ?? [],
    force: flags.force ?? false,
    restart: flags.restart ?? false,
    storage: flags.storage ?? REQUEST_DEFAULTS.storage,
    stallTimeoutMs: flags.stallTimeout ?? REQUEST_DEFAULTS.stallTimeoutMs,
    retry: {
      ...DEFAULT_RETRY_OPTIONS,
      ...(flags.retries === undefined ? {} : { maxAttempts: flags.retries + 1 }),
    },
    minSplitBytes: flags.minSplit ?? REQUEST_DEFAULTS.minSplitBytes,
    minSplitExplicit: flags.minSplit !== undefined,
    checkpointIntervalMs: flags.checkpointInterval ?? REQUEST_DEFAULTS.checkpointIntervalMs,
    limitBytesPerSec: flags.limit,
    refreshCommand: flags.refreshCmd,
    ...(flags.mirror === undefined || flags.mirror.length === 0 ? {} : { mirrors: flags.mirror }),
    ...(flags.noMirrors === true ? { noLinkMirrors: true } : {}),
  };
}

/** `--checksum-file`: a path, or an http(s) URL (any other scheme is refused before any I/O). */
function checksumFileFlag(input: string): string {
  if (input.trim() === "") {
    throw new UsageError(`--checksum-file: expected a URL or a path, got ${JSON.stringify(input)}`, {
      flag: "--checksum-file",
      input,
    });
  }
  if (isUrlLike(input)) assertFetchableUrl(input, "--checksum-file");
  return input;
}

function storageKind(input: string): StorageKind {
  if (input === "parts" || input === "in-place") return input;
  throw new UsageError(`--storage: expected "parts" or "in-place", got ${JSON.stringify(input)}`, {
    flag: "--storage",
    input,
  });
}

/** A duration in ms as the flags take it, for help text: `30s`. */
function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

/** Flags `get` shares with other commands that start a download. */
export const downloadFlags = {
  connections: {
    kind: "parsed",
    parse: integerIn("--connections", 1, 64),
    brief: `Connections to use, 1..64 (default ${REQUEST_DEFAULTS.connections}; 1 when the server ignores Range)`,
    optional: true,
    placeholder: "N",
  },
  json: {
    kind: "boolean",
    brief: "Machine output: one JSON object per line on stdout (default off)",
    optional: true,
  },
  quiet: {
    kind: "boolean",
    brief: "No progress output; errors and the result line still print (default off)",
    optional: true,
  },
  stallTimeout: {
    kind: "parsed",
    parse: durationMs("--stall-timeout"),
    brief: `Abort and retry a connection silent this long (default ${seconds(REQUEST_DEFAULTS.stallTimeoutMs)}; 500ms, 2m...)`,
    optional: true,
    placeholder: "DURATION",
  },
  retries: {
    kind: "parsed",
    parse: integerIn("--retries", 0, 1000),
    brief: `Retries per segment after a failure without progress (default ${DEFAULT_RETRY_OPTIONS.maxAttempts - 1})`,
    optional: true,
    placeholder: "N",
  },
  limit: {
    kind: "parsed",
    parse: byteSize("--limit", 1024),
    brief: "Speed limit for the whole download, bytes per second: 512K, 2M... (default none)",
    optional: true,
    placeholder: "RATE",
  },
  checkpointInterval: {
    kind: "parsed",
    parse: durationMs("--checkpoint-interval"),
    brief: `Longest time between checkpoints (progress fsynced into FILE.dlm/state.json): kill -9 loses at most this; as often as every 100ms while fsync is cheap (default ${seconds(REQUEST_DEFAULTS.checkpointIntervalMs)})`,
    optional: true,
    placeholder: "DURATION",
  },
} as const;

/** `dlm get --metalink FILE|URL`: the one download the Metalink describes (see get-metalink.ts). */
async function runMetalinkCommand(
  cli: CliContext,
  flags: GetFlags & ListenFlags & BatchFlags & MetalinkFlags,
  urls: readonly string[],
): Promise<void> {
  const json = flags.json ?? false;
  let request: DownloadRequest;
  let listen: ListenAddress | undefined;
  try {
    if (flags.inputFile !== undefined) {
      throw new UsageError("--metalink: cannot be combined with --input-file", { flag: "--metalink" });
    }
    // Loaded here only: the XML parser under it costs a plain `dlm get` ~6 MiB of RSS and start-up time.
    const { requestFromMetalink } = await import("./get-metalink.ts");
    request = await requestFromMetalink(cli, flags, urls);
    listen = listenAddress(flags.listen, flags.listenAny ?? false);
  } catch (error) {
    cli.exitCode = reportError(cli, error, json);
    return;
  }
  await runDownloadCommand(cli, request, { json, quiet: flags.quiet ?? false, listen });
}

/** `dlm get URL`: download a file, or a byte range of it, verified. */
export const getCommand = buildCommand({
  async func(
    this: CliContext,
    flags: GetFlags & ListenFlags & BatchFlags & MetalinkFlags,
    ...urls: string[]
  ) {
    const url = urls[0];
    if (flags.metalink !== undefined) {
      await runMetalinkCommand(this, flags, urls);
      return;
    }
    if (flags.metalinkFile !== undefined) {
      this.exitCode = reportError(
        this,
        new UsageError("--metalink-file: applies only with --metalink", { flag: "--metalink-file" }),
        flags.json ?? false,
      );
      return;
    }
    if (urls.length !== 1 || flags.inputFile !== undefined || url === undefined) {
      await runBatchCommand(this, flags, urls);
      return;
    }
    let request: DownloadRequest;
    let listen: ListenAddress | undefined;
    try {
      request = requestFromFlags(url, flags);
      listen = listenAddress(flags.listen, flags.listenAny ?? false);
    } catch (error) {
      this.exitCode = reportError(this, error, flags.json ?? false);
      return;
    }
    // --limit is the request's own (a token bucket in the workers' read loop, download.ts).
    await runDownloadCommand(this, request, {
      json: flags.json ?? false,
      quiet: flags.quiet ?? false,
      listen,
    });
  },
  parameters: {
    flags: {
      output: {
        kind: "parsed",
        parse: outputPath,
        brief: "Output file, relative to the current directory (default: the name from the URL)",
        optional: true,
        placeholder: "FILE",
      },
      ...downloadFlags,
      ...listenFlags,
      rangeStart: {
        kind: "parsed",
        parse: byteOffset("--range-start"),
        brief: "First byte to fetch, inclusive and 0-based (default 0)",
        optional: true,
        placeholder: "A",
      },
      rangeEnd: {
        kind: "parsed",
        parse: byteOffset("--range-end"),
        brief: "Last byte to fetch, inclusive (default: the last byte of the file)",
        optional: true,
        placeholder: "B",
      },
      checksum: {
        kind: "parsed",
        parse: (input: string) => (input === "auto" ? ("auto" as const) : parseChecksum(input)),
        brief:
          "Expected digest ALGO:HEX: sha256, sha512, sha1, md5, sha3-256, blake3, xxh3, xxh128, crc32c...; or auto: NAME.sha256, NAME.sha512, NAME.md5, SHA256SUMS, SHA512SUMS beside the URL (default: a digest header, if the server sends one)",
        optional: true,
        placeholder: "ALGO:HEX|auto",
      },
      checksumFile: {
        kind: "parsed",
        parse: (input: string) => checksumFileFlag(input),
        brief:
          "Read the expected digest from a sha256sum/sha512sum/BSD-style list (URL or path): the line for the output's or the URL's file name (default: none)",
        optional: true,
        placeholder: "URL|PATH",
      },
      header: {
        kind: "parsed",
        parse: header,
        brief: "Extra request header 'Name: value', repeatable (default: none)",
        optional: true,
        variadic: true,
        placeholder: "'NAME: VALUE'",
      },
      force: { kind: "boolean", brief: "Overwrite an existing output file (default off)", optional: true },
      restart: {
        kind: "boolean",
        brief: "Discard an unfinished download of FILE and start over (default off)",
        optional: true,
      },
      storage: {
        kind: "parsed",
        parse: storageKind,
        brief: `How partial data is kept: in-place (one preallocated file) or parts (default ${REQUEST_DEFAULTS.storage})`,
        optional: true,
        placeholder: "parts|in-place",
      },
      minSplit: {
        kind: "parsed",
        parse: byteSize("--min-split", 1),
        brief: `Smallest segment to split or steal (default ${REQUEST_DEFAULTS.minSplitBytes / 2 ** 20}M)`,
        optional: true,
        placeholder: "SIZE",
      },
      refreshCmd: {
        kind: "parsed",
        parse: (input: string) => splitCommand(input),
        brief:
          "When the link expires, run CMD (no shell; DLM_URL, DLM_OUTPUT, DLM_EXPIRED_URL, DLM_STATUS set) and continue at the URL it prints (default: resolve URL again)",
        optional: true,
        placeholder: "CMD",
      },
      ...sourceFlags({
        mirror:
          "Another http(s) URL of the same file, fetched from at the same time; repeatable (default: none)",
        metalink:
          "Download the file a Metalink (RFC 5854, or 3.0) describes, from a local FILE or an http(s) URL (default: none)",
      }),
      noMirrors: {
        kind: "boolean",
        brief: "Do not add the mirrors a server names in Link: rel=duplicate headers (default off)",
        optional: true,
        withNegated: false,
      },
      ...batchFlags,
    },
    aliases: { o: "output", c: "connections", H: "header", i: "inputFile", j: "jobs" },
    positional: {
      kind: "array",
      parameter: { brief: "http:// or https:// URL (several: a batch)", parse: httpUrl, placeholder: "URL" },
    },
  },
  docs: { brief: "Download URL over several connections to a verified file (or several: -i FILE -j N)" },
});
