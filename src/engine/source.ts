/** One place the file can be fetched from (the URL given, a --mirror, a Metalink url, a Link: rel=duplicate). */
export interface Source {
  /** 0 = the URL the user gave; the others in the order they were learned. */
  readonly id: number;
  /** The URL as given: resolved again from here when a signed link expires. */
  readonly given: string;
  /** Where range requests go (after redirects). */
  readonly url: string;
  /** This source's own validators (mirrors have ETags of their own). */
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  /** Most connections it accepts (a Metalink's or learned from a 503); undefined = no known limit. */
  readonly maxConnections?: number | undefined;
  /** Metalink priority, lower preferred; undefined = 1. */
  readonly priority?: number | undefined;
}
