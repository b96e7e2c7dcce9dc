import { randomBytes } from "node:crypto";
import type { Logger } from "@logtape/logtape";
import { REQUEST_DEFAULTS } from "../../engine/download-request.ts";
import { ACTIVE_STATES } from "../../manager/download-record.ts";
import type { Manager } from "../../manager/manager.ts";
import type { DownloadView } from "../../manager/manager-events.ts";
import { Aria2Fault, gidNotFound } from "./aria2-fault.ts";
import { idOfGid } from "./gid.ts";
import { MirrorBook } from "./mirrors.ts";
import type { StatusSource } from "./status.ts";

/** How many removed downloads are remembered for tellStopped (aria2's --max-download-result default). */
export const MAX_REMOVED_RESULTS = 1000;

/** What the aria2 methods are given. */
export interface Aria2Deps {
  readonly manager: Manager;
  /** dlm serve's --dir (absolute): every `dir` must lie inside it. */
  readonly baseDir: string;
  /** Connections of a download that asks for none (default REQUEST_DEFAULTS.connections, as the manager's). */
  readonly defaultConnections?: number;
  /** `--rpc-allow-shutdown`. */
  readonly allowShutdown: boolean;
  /** Stops dlm serve (after the answer is sent). */
  readonly onShutdown: () => void;
  /** dlm's version, reported beside aria2's in getVersion. */
  readonly dlmVersion: string;
  readonly log: Logger;
}

/** A removed download, kept as aria2 keeps download results until purged. */
interface RemovedResult {
  readonly view: DownloadView;
  readonly uris: readonly string[];
}

/**
 * State the aria2 front keeps beside the manager: removed downloads (their rows are gone from the queue,
 * aria2 lists them as "removed" until purged), mirrors (see mirrors.ts), global options that have no
 * manager setting, and the session id. The queue itself is the manager's: nothing about a download is
 * kept here that `dlm ls` would not show.
 */
export class Aria2Session {
  readonly deps: Aria2Deps;
  readonly sessionId = randomBytes(20).toString("hex");
  readonly mirrors = new MirrorBook();
  readonly globalOptions = new Map<string, string>();
  /**
   * Sizes a Metalink gave (`<size>`) by download id, shown as its length until a run learns the real one,
   * as aria2 shows a Metalink download's length before it starts. Kept in memory: after a restart a waiting
   * download shows length 0 until it runs.
   */
  readonly describedSizes = new Map<number, number>();
  /** Connections of a download that asks for none. */
  readonly defaultConnections: number;
  readonly #removed = new Map<number, RemovedResult>();
  /** Rows being purged through aria2: their removal is not a "removed" result. */
  readonly #purging = new Set<number>();
  readonly #unsubscribe: () => void;
  /** The running downloads' progress at the last tick (a removed download's last known size). */
  readonly #live = new Map<number, DownloadView>();

  constructor(deps: Aria2Deps) {
    this.deps = deps;
    this.defaultConnections = deps.defaultConnections ?? REQUEST_DEFAULTS.connections;
    // Every removal counts, whatever door it came through (dlm rm, DownloadService, the dashboard).
    this.#unsubscribe = deps.manager.subscribe((message) => {
      if (message.kind === "tick") {
        this.#live.clear();
        for (const view of message.progress) this.#live.set(view.id, view);
        return;
      }
      if (message.event.kind !== "removed") return;
      const id = message.event.downloadId;
      const last = this.#live.get(id);
      const described = this.describedSizes.get(id);
      this.describedSizes.delete(id);
      // aria2 keeps a result only for a download removed while active; a waiting one is simply gone.
      if (this.#purging.has(id) || !ACTIVE_STATES.has(message.event.record.state)) return;
      // The row may predate the size learned by the run: the last progress seen says more.
      const view = {
        ...message.event.record,
        totalBytes: message.event.record.totalBytes ?? last?.totalBytes ?? described,
        bytesDownloaded: Math.max(message.event.record.bytesDownloaded, last?.bytesDownloaded ?? 0),
        bytesPerSecond: 0,
        updatedAt: Date.now(),
      };
      this.#removed.set(id, { view, uris: this.mirrors.urisOf(view) });
      this.mirrors.forget(id);
      for (const oldest of this.#removed.keys()) {
        if (this.#removed.size <= MAX_REMOVED_RESULTS) break;
        this.#removed.delete(oldest);
      }
    });
  }

  get manager(): Manager {
    return this.deps.manager;
  }

  /** Stops listening to the manager. */
  close(): void {
    this.#unsubscribe();
  }

  /** The download a GID names, live or removed; aria2's "GID … is not found" otherwise. */
  async find(gid: unknown): Promise<StatusSource & { readonly gid: string }> {
    const shown = typeof gid === "string" ? gid : JSON.stringify(gid);
    const id = idOfGid(gid);
    if (id === undefined) {
      throw typeof gid === "string" ? gidNotFound(shown) : new Aria2Fault(`Bad GID ${shown}`);
    }
    const view = await this.manager.get(id);
    if (view !== undefined) {
      return {
        gid: shown,
        view: this.#sized(view),
        progress: this.manager.progress(id),
        removed: false,
        uris: this.mirrors.urisOf(view),
      };
    }
    const removed = this.#removed.get(id);
    if (removed === undefined) throw gidNotFound(shown);
    return { gid: shown, view: removed.view, progress: undefined, removed: true, uris: removed.uris };
  }

  /** A live download's source (for lists). */
  sourceOf(view: DownloadView): StatusSource {
    return {
      view: this.#sized(view),
      progress: this.manager.progress(view.id),
      removed: false,
      uris: this.mirrors.urisOf(view),
    };
  }

  /** Removed downloads, oldest removal first. */
  removedResults(): StatusSource[] {
    return [...this.#removed.values()].map(({ view, uris }) => ({
      view,
      progress: undefined,
      removed: true,
      uris,
    }));
  }

  /** Forgets removed results (all when `id` is absent); true when one was forgotten. */
  forgetRemoved(id?: number): boolean {
    if (id === undefined) {
      const any = this.#removed.size > 0;
      this.#removed.clear();
      return any;
    }
    return this.#removed.delete(id);
  }

  /** `view` with the size its Metalink described while no run has learned one. */
  #sized(view: DownloadView): DownloadView {
    const described = this.describedSizes.get(view.id);
    return view.totalBytes !== undefined || described === undefined
      ? view
      : { ...view, totalBytes: described };
  }

  /** Removes finished or failed rows from the queue without recording them as removed (a purge). */
  async purgeRows(ids: readonly number[]): Promise<void> {
    for (const id of ids) this.#purging.add(id);
    try {
      await this.manager.remove(ids, false);
    } finally {
      for (const id of ids) this.#purging.delete(id);
    }
    for (const id of ids) this.mirrors.forget(id);
  }
}
