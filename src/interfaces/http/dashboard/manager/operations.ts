/**
 * The manager page's DownloadService calls, one method per button: what a call changed comes back over
 * WatchAll (the page never writes the queue itself); a failure is shown in the banner.
 */
import { ConnectError } from "@connectrpc/connect";
import type { Download } from "../../../../gen/dlm/v1/download_pb.ts";
import type { PageState, RemoveQuestion } from "./page-state.ts";
import { buttonKey, type RowActions, type RowButtons } from "./queue-table.ts";
import type { RemoveChoice } from "./remove-dialog.ts";
import { displayName, parseRate, rowToggle } from "./row-text.ts";
import type { DownloadClient } from "./streams.ts";

/** The page's DownloadService calls; a failure is shown in the banner. */
export class Operations implements RowActions {
  readonly #state: PageState;
  readonly #client: DownloadClient;
  readonly #buttons: RowButtons;

  constructor(state: PageState, client: DownloadClient, buttons: RowButtons) {
    this.#state = state;
    this.#client = client;
    this.#buttons = buttons;
  }

  select(id: bigint, on: boolean): void {
    this.#state.select([id], on);
  }

  open(id: bigint): void {
    this.#state.openDetail(id);
  }

  toggle(d: Download): void {
    void this.command(rowToggle(d.state).command, [d.id]);
  }

  remove(id: bigint): void {
    this.#state.askRemove([id]);
  }

  /**
   * Moves `id` one place in queue order with one Move call (the daemon shifts the others, so no two rows
   * share a position). Past a download of another priority it cannot go by position: the banner says so.
   */
  move(id: bigint, direction: -1 | 1): void {
    const d = this.#state.queue.get(id);
    const other = this.#state.queue.neighbour(id, direction);
    if (d === undefined || other === undefined) return;
    if (other.priority !== d.priority) {
      this.#state.setNotice(
        `Cannot move ${displayName(d)} past ${displayName(other)}: their priorities differ (${d.priority} and ${other.priority}), and priority comes before position in queue order.`,
        "info",
      );
      return;
    }
    void this.#call("move the download", () => this.#client.move({ id, position: other.position }));
  }

  async command(kind: "pause" | "resume", ids: readonly bigint[]): Promise<void> {
    if (ids.length === 0) return;
    const selector = { ids: [...ids] };
    await this.#call(`${kind} ${ids.length === 1 ? "the download" : `${ids.length} downloads`}`, () =>
      kind === "pause"
        ? this.#client.pause({ selector }).then(() => undefined)
        : this.#client.resume({ selector }).then(() => undefined),
    );
  }

  /** Closes the detail and gives the focus back to its row's name (keyboard users land where they were). */
  closeDetail(): void {
    const id = this.#state.detail?.id;
    this.#state.closeDetail();
    if (id !== undefined) this.#buttons.get(buttonKey(id, "open"))?.focus();
  }

  async answerRemove(question: RemoveQuestion, choice: RemoveChoice | undefined): Promise<void> {
    this.#state.answered();
    if (choice === undefined) return;
    const removed = await this.#call("remove", () =>
      this.#client.remove({ selector: { ids: [...question.ids] }, deleteFiles: choice === "delete" }),
    );
    this.#state.select(removed?.ids ?? [], false);
  }

  async setGlobalLimit(typed: string): Promise<void> {
    const rate = parseRate(typed);
    if (rate === undefined) {
      return this.#state.setNotice(
        `Global limit: expected a rate like 512K or 2M, got ${JSON.stringify(typed)}`,
      );
    }
    const done = await this.#call("set the global limit", () =>
      this.#client.setGlobalLimit({ speedLimit: BigInt(rate) }),
    );
    if (done !== undefined) this.#state.setNotice(undefined);
  }

  async setDownloadLimit(id: bigint, typed: string): Promise<void> {
    const rate = parseRate(typed);
    if (rate === undefined) {
      return this.#state.setNotice(
        `Speed limit: expected a rate like 512K or 2M, got ${JSON.stringify(typed)}`,
      );
    }
    const done = await this.#call("set the speed limit", () =>
      this.#client.update({
        id,
        download: { speedLimit: BigInt(rate) },
        updateMask: { paths: ["speed_limit"] },
      }),
    );
    if (done !== undefined) this.#state.setNotice(undefined);
  }

  async #call<T>(what: string, task: () => Promise<T>): Promise<T | undefined> {
    try {
      return await task();
    } catch (error) {
      this.#state.setNotice(`Could not ${what}: ${ConnectError.from(error).rawMessage}`);
      return undefined;
    }
  }
}
