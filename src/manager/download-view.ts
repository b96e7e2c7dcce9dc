import type { ProgressSnapshot } from "../progress/snapshot.ts";
import type { DownloadRecord } from "./download-record.ts";
import type { DownloadView } from "./manager-events.ts";
import { hideSecrets, secretNames } from "./secret-headers.ts";

/**
 * The record as clients see it: secrets hidden, with live bytes and rate from `live` (the snapshot of its
 * job, when it runs in this process and has not finished).
 */
export function viewOf(record: DownloadRecord, live: ProgressSnapshot | undefined): DownloadView {
  const shown = {
    ...record,
    headers: hideSecrets(record.headers),
    secretHeaders: secretNames(record.headers),
  };
  if (live === undefined || record.state === "finished") return { ...shown, bytesPerSecond: 0 };
  return {
    ...shown,
    bytesDownloaded: live.bytesDownloaded,
    totalBytes: live.totalBytes ?? record.totalBytes,
    bytesPerSecond: live.bytesPerSecond,
    activeConnections: live.activeConnections,
  };
}
