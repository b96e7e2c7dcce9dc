import type { NewDownload } from "../../manager/download-record.ts";
import type { DownloadView } from "../../manager/manager-events.ts";

/**
 * addUri's extra URIs (mirrors of the same file) in one place.
 *
 * addUri's mirrors are stored with the download (`NewDownload.mirrors`). changeUri's changes to them are
 * kept here in memory (the manager's Update does not change mirrors): shown by getUris/getFiles until a
 * restart, after which the stored ones show again.
 */
export class MirrorBook {
  readonly #mirrors = new Map<number, readonly string[]>();

  /** The NewDownload that carries `mirrors`. */
  withMirrors(input: NewDownload, mirrors: readonly string[]): NewDownload {
    return { ...input, mirrors };
  }

  /** Remembers the mirrors changeUri gave a download (or forgets a removed one's: `forget`). */
  setMirrors(id: number, mirrors: readonly string[]): void {
    this.#mirrors.set(id, [...mirrors]);
  }

  /** Forgets a removed download's changed mirrors. */
  forget(id: number): void {
    this.#mirrors.delete(id);
  }

  /** The download's mirrors (empty = none). */
  mirrorsOf(view: DownloadView): readonly string[] {
    return this.#mirrors.get(view.id) ?? view.mirrors;
  }

  /** Every URI of the download: the one given, then its mirrors. */
  urisOf(view: DownloadView): readonly string[] {
    return [view.url, ...this.mirrorsOf(view)];
  }
}
