import type { Context } from "../context.ts";
import type { DownloadRecord, RecordPatch, StoredEvent } from "./download-record.ts";
import type { JobRunner } from "./job-runner.ts";
import type { DownloadView, ManagerListener } from "./manager-events.ts";
import type { Store } from "./store.ts";

/** The parts of the manager a command (update, remove, pause) works with. */
export interface CommandContext {
  readonly store: Store;
  /** The world (clocks, fetch for the same-file check). */
  readonly ctx: Context;
  /** Absolute download directory: nothing outside it is deleted. */
  readonly dir: string;
  /** This process's node name. */
  readonly node: string;
  readonly jobs: JobRunner;
  /** Stores a change of a download and delivers its event. */
  change(id: number, patch: RecordPatch): Promise<StoredEvent | undefined>;
  /** Delivers an event stored otherwise (a removal). */
  deliver(event: StoredEvent): void;
  /** Plans the queue again. */
  schedule(): void;
  /** The record as clients see it. */
  view(record: DownloadRecord): DownloadView;
  subscribe(listener: ManagerListener): () => void;
}
