import type { NewDownload } from "../../manager/download-record.ts";
import type { DownloadView } from "../../manager/manager-events.ts";

/**
 * addUri's extra URIs (mirrors of the same file) in one place.
 *
 * MERGE (branch `src`): `NewDownload`/`DownloadRecord` gain `mirrors: readonly string[]`. Until then the
 * mirrors are kept here in memory (shown by getUris/getFiles, lost at restart); at the merge,
 * `withMirrors` becomes `{ ...input, mirrors }`, `mirrorsOf` reads `view.mirrors`, and `setMirrors`
 * becomes a manager update of the field.
 */
export class MirrorBook {
  readonly #mirrors = new Map<number, readonly string[]>();

  /** The NewDownload that carries `mirrors` (see the MERGE note). */
  withMirrors(input: NewDownload, _mirrors: readonly string[]): NewDownload {
    return input;
  }

  /** Remembers the mirrors of a download just added or changed. */
  setMirrors(id: number, mirrors: readonly string[]): void {
    if (mirrors.length === 0) this.#mirrors.delete(id);
    else this.#mirrors.set(id, [...mirrors]);
  }

  /** The download's mirrors (empty = none). */
  mirrorsOf(view: DownloadView): readonly string[] {
    return this.#mirrors.get(view.id) ?? [];
  }

  /** Every URI of the download: the one given, then its mirrors. */
  urisOf(view: DownloadView): readonly string[] {
    return [view.url, ...this.mirrorsOf(view)];
  }
}
