import type { NewDownload } from "../../manager/download-record.ts";
import type { MappedOptions } from "./options.ts";

/** What a download learned elsewhere than the call's options (a Metalink's name, hash and other URLs). */
export interface DescribedDownload {
  readonly output?: string | undefined;
  /** ALGO:HEX. */
  readonly checksum?: string | undefined;
  readonly mirrors?: readonly string[] | undefined;
}

/**
 * The manager's NewDownload of `url` from an aria2 call's mapped options (addUri, addMetalink): the call's
 * `out` and `checksum` win over what `described` says; unset options take the daemon's defaults.
 */
export function downloadInput(
  url: string,
  mapped: MappedOptions,
  described: DescribedDownload = {},
): NewDownload {
  return {
    url,
    output: mapped.output ?? described.output,
    directory: mapped.directory ?? "",
    headers: mapped.headers ?? [],
    checksum: mapped.checksum ?? described.checksum,
    connections: mapped.connections ?? 0,
    speedLimit: mapped.speedLimit ?? 0,
    priority: 0,
    labels: [],
    state: mapped.paused ? "paused" : "queued",
    requestId: undefined,
    mirrors: described.mirrors ?? [],
  };
}
