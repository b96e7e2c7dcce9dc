import { buildCommand } from "@stricli/core";
import { parseChecksum } from "../../../engine/checksum.ts";
import { type DownloadRequest, REQUEST_DEFAULTS } from "../../../engine/download-request.ts";
import { DEFAULT_RETRY_OPTIONS } from "../../../engine/retry-policy.ts";
import type { StorageKind } from "../../../engine/storage/sink.ts";
import { UsageError } from "../../../errors.ts";
import type { ListenAddress } from "../../shared/listener.ts";
import type { CliContext } from "../cli-context.ts";
import { byteOffset, byteSize, durationMs, header, httpUrl, integerIn, outputPath } from "../flag-parsers.ts";
import { type ListenFlags, listenAddress, listenFlags } from "../listen-address.ts";
import { reportError } from "../report.ts";
import { runDownloadCommand } from "../run-download.ts";
import { type BatchFlags, batchFlags, runBatchCommand } from "./get-batch.ts";

/** Flags of `dlm get`, after parsing. */
export interface GetFlags {
  readonly output?: string;
  readonly connections?: number;
  readonly rangeStart?: number;
  readonly rangeEnd?: number;
  readonly checksum?: ReturnType<typeof parseChecksum>;
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
  /** sched: minimal --mirror until branch src's (which replaces this). */
  readonly mirror?: readonly string[];
}

/** Turns parsed flags into a request; checks that need two flags at once (still before any I/O). */
export function requestFromFlags(url: string, flags: GetFlags): DownloadRequest {
  if (flags.rangeStart !== undefined && flags.rangeEnd !== undefined && flags.rangeEnd < flags.rangeStart) {
    throw new UsageError(
      `--range-end: expected an offset >= --range-start (${flags.rangeStart}), got "${flags.rangeEnd}"`,
      { flag: "--range-end", input: String(flags.rangeEnd) },
    );
  }
  return {
    url,
    output: flags.output,
    connections: flags.connections ?? REQUEST_DEFAULTS.connections,
    rangeStart: flags.rangeStart,
    rangeEnd: flags.rangeEnd,
    checksum: flags.checksum,
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
    checkpointIntervalMs: flags.checkpointInterval ?? REQUEST_DEFAULTS.checkpointIntervalMs,
    limitBytesPerSec: flags.limit,
    ...(flags.mirror === undefined ? {} : { mirrors: flags.mirror }),
  };
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

/** `dlm get URL`: download a file, or a byte range of it, verified. */
export const getCommand = buildCommand({
  async func(this: CliContext, flags: GetFlags & ListenFlags & BatchFlags, ...urls: string[]) {
    const url = urls[0];
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
        parse: parseChecksum,
        brief:
          "Expected digest ALGO:HEX: sha256, sha512, sha1, md5, sha3-256, blake3, xxh3, xxh128, crc32c... (default: none)",
        optional: true,
        placeholder: "ALGO:HEX",
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
      // sched: minimal --mirror until branch src's (which replaces this).
      mirror: {
        kind: "parsed",
        parse: (input: string) => {
          try {
            return httpUrl(input);
          } catch {
            throw new UsageError(
              `--mirror: expected an http:// or https:// URL, got ${JSON.stringify(input)}`,
              {
                flag: "--mirror",
                input,
              },
            );
          }
        },
        brief: "Another URL of the same file, fetched from too; repeatable (default: none)",
        optional: true,
        variadic: true,
        placeholder: "URL",
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
