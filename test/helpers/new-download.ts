import type { NewDownload } from "../../src/manager/download-record.ts";

/** A queued download of `url` with every option at its default, as Add makes it; `extra` overrides. */
export function newDownload(url: string, extra: Partial<NewDownload> = {}): NewDownload {
  return {
    url,
    output: undefined,
    directory: "",
    headers: [],
    mirrors: [],
    checksum: undefined,
    connections: 0,
    speedLimit: 0,
    priority: 0,
    labels: [],
    state: "queued",
    requestId: undefined,
    ...extra,
  };
}
