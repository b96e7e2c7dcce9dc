import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { sep } from "node:path";
import type { Logger } from "@logtape/logtape";
import { type DownloadRequest, REQUEST_DEFAULTS } from "../engine/download-request.ts";
import { sidecarOf } from "../engine/prepare.ts";
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "../engine/retry-policy.ts";
import { checksumOptionOf } from "./checksum-option.ts";
import type { DownloadRecord, RecordPatch } from "./download-record.ts";
import { failureInfo } from "./failure-info.ts";
import { placeInside } from "./output-place.ts";

/** What a queued download's engine request takes from the manager's options. */
export interface RunRequestOptions {
  /** The engine's own retries within one run (default DEFAULT_RETRY_OPTIONS, as `dlm get`). */
  readonly engineRetry?: RetryOptions | undefined;
  /** `dlm serve --refresh-cmd`: the owner's command for expired links. */
  readonly refreshCommand?: readonly string[] | undefined;
}

/**
 * The path an earlier run chose for `record`, if this node may use it: a path another node chose (shared
 * store) is used only if it lies in this node's download directory `dir`.
 */
export async function knownPath(
  dir: string,
  record: DownloadRecord,
  shared: boolean,
): Promise<string | undefined> {
  if (!shared) return record.path;
  const root = await realpath(dir);
  return record.path?.startsWith(root + sep) === true ? record.path : undefined;
}

/** True when `path`'s file is in place with no sidecar left: it finished, whoever did not record it. */
export function placedWithoutSidecar(path: string | undefined): boolean {
  return path !== undefined && existsSync(path) && !existsSync(sidecarOf(path));
}

/**
 * Where a claimed download runs: its directory (checked again now: a link may have appeared since Add) and
 * the path of its earlier run; or the patch that ends it without a run (placement refused, or, on a shared
 * store, its file placed by a node that stopped before recording it).
 */
export async function runPlace(
  dir: string,
  record: DownloadRecord,
  shared: boolean,
  log: Logger,
  realDir?: string,
): Promise<{ readonly cwd: string; readonly known: string | undefined } | { readonly patch: RecordPatch }> {
  let cwd: string;
  try {
    cwd = await placeInside(dir, record.directory, record.output, realDir);
  } catch (error) {
    return { patch: { state: "failed", failure: failureInfo(error) } };
  }
  const known = await knownPath(dir, record, shared);
  // One node checks this for its own rows at start; a row another node left is checked here.
  if (shared && placedWithoutSidecar(known)) return { patch: { state: "finished" } };
  if (record.bytesDownloaded > 0 && (known === undefined || !existsSync(sidecarOf(known)))) {
    log.warn("download {id}: no sidecar of its earlier run here ({path}); starting over", {
      id: record.id,
      path: record.path,
    });
  }
  return { cwd, known };
}

/** The engine request of one run of a queued download, as `dlm get` would make it. */
export function runRequest(
  record: DownloadRecord,
  connections: number,
  known: string | undefined,
  options: RunRequestOptions,
): DownloadRequest {
  return {
    url: record.url,
    // A known path (chosen by an earlier run) is where the sidecar is: resume there.
    output: known ?? record.output,
    connections,
    rangeStart: undefined,
    rangeEnd: undefined,
    ...checksumOptionOf(record.checksum),
    headers: record.headers,
    mirrors: record.mirrors,
    force: false,
    restart: false,
    storage: REQUEST_DEFAULTS.storage,
    stallTimeoutMs: REQUEST_DEFAULTS.stallTimeoutMs,
    retry: options.engineRetry ?? DEFAULT_RETRY_OPTIONS,
    minSplitBytes: REQUEST_DEFAULTS.minSplitBytes,
    checkpointIntervalMs: REQUEST_DEFAULTS.checkpointIntervalMs,
    refreshCommand: options.refreshCommand,
  };
}
