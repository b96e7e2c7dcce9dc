import { buildCommand } from "@stricli/core";
import { splitCommand } from "../../../engine/refresh-cmd.ts";
import { DEFAULT_RETRY_OPTIONS } from "../../../engine/retry-policy.ts";
import { type Aria2Flags, aria2Flags } from "../aria2-flags.ts";
import { byteSize, integerIn, nodeName, storeUrl } from "../flag-parsers.ts";
import { type ListenFlags, listenFlags } from "../listen-address.ts";

/** Flags of `dlm serve`. */
export interface ServeFlags extends ListenFlags, Aria2Flags {
  readonly dir?: string;
  readonly maxActive?: number;
  readonly maxConnections?: number;
  readonly limit?: number;
  readonly retries?: number;
  readonly onComplete?: string;
  readonly refreshCmd?: readonly string[];
  readonly store?: string;
  readonly node?: string;
  readonly leaseTimeout?: number;
  readonly json?: boolean;
}

/**
 * `dlm serve`: the download manager. Opens (or creates) the queue in its home, continues every unfinished
 * download from its sidecar, serves DownloadService, writes serve.json for clients, and runs until
 * SIGINT/SIGTERM, when running downloads pause (state saved) and stay queued for the next start.
 */
export const serveCommand = buildCommand({
  loader: async () => (await import("./serve-run.ts")).runServe,
  parameters: {
    flags: {
      dir: {
        kind: "parsed",
        parse: String,
        brief: "Download directory; clients cannot place files outside it (default: the current directory)",
        optional: true,
        placeholder: "DIR",
      },
      ...listenFlags,
      ...aria2Flags,
      maxActive: {
        kind: "parsed",
        parse: integerIn("--max-active", 1, 100),
        brief: "Downloads running at once, 1..100 (default 3)",
        optional: true,
        placeholder: "N",
      },
      maxConnections: {
        kind: "parsed",
        parse: integerIn("--max-connections", 1, 1024),
        brief: "Connections all running downloads share, 1..1024 (default 8 per --max-active slot)",
        optional: true,
        placeholder: "N",
      },
      limit: {
        kind: "parsed",
        parse: byteSize("--limit", 1),
        brief: "Global speed limit per second shared by all downloads (512K, 20M...; default none)",
        optional: true,
        placeholder: "RATE",
      },
      retries: {
        kind: "parsed",
        parse: integerIn("--retries", 0, 1000),
        brief: `Retries per segment within one run, as dlm get (default ${DEFAULT_RETRY_OPTIONS.maxAttempts - 1}); then a retryable failure waits and the download is tried again later`,
        optional: true,
        placeholder: "N",
      },
      onComplete: {
        kind: "parsed",
        parse: String,
        brief:
          "Run PROGRAM (no shell) when a download ends, with DLM_ID, DLM_FILE, DLM_SHA256, DLM_STATE set",
        optional: true,
        placeholder: "PROGRAM",
      },
      refreshCmd: {
        kind: "parsed",
        parse: (input: string) => splitCommand(input),
        brief:
          "When a download's link expires, run CMD (no shell; DLM_URL, DLM_OUTPUT, DLM_EXPIRED_URL, DLM_STATUS set) for a fresh URL; API clients cannot set one (default: resolve the URL again)",
        optional: true,
        placeholder: "CMD",
      },
      store: {
        kind: "parsed",
        parse: storeUrl,
        brief:
          "Keep the queue in PostgreSQL (postgres://USER@HOST/DB) to share it with other dlm serve nodes (default: SQLite in the home)",
        optional: true,
        placeholder: "URL",
      },
      node: {
        kind: "parsed",
        parse: nodeName,
        brief:
          "This node's name among those sharing --store (default: kept in the home, made from the host name)",
        optional: true,
        placeholder: "NAME",
      },
      leaseTimeout: {
        kind: "parsed",
        parse: integerIn("--lease-timeout", 2, 3600),
        brief:
          "Seconds without a heartbeat after which another node takes over a download, 2..3600 (default 15)",
        optional: true,
        placeholder: "SECONDS",
      },
      json: { kind: "boolean", brief: "Machine output: a JSON line with the listeners", optional: true },
    },
  },
  docs: {
    brief: "Run the download manager: a persistent queue served as dlm.v1.DownloadService (see dlm add, ls)",
  },
});
