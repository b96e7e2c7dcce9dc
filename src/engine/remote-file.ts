import type { HeaderDigest } from "./digest-headers.ts";

/** What a probe learnt about the remote file. */
export interface RemoteFile {
  /** URL after redirects; segment requests go here directly. */
  readonly url: string;
  /** Size in bytes, when the server said (Content-Range total or Content-Length of a 200). */
  readonly totalBytes: number | undefined;
  /** The server answered a range request with 206. */
  readonly acceptsRanges: boolean;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  /** `filename` from Content-Disposition, raw (not yet judged safe). */
  readonly dispositionName: string | undefined;
  /** Digests of the whole file its headers stated (Repr-Digest...), best first; absent = none. */
  readonly digests?: readonly HeaderDigest[] | undefined;
}
