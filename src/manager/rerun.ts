/**
 * "Run now, or once more after": `request()` starts `task` unless a run is in flight, in which case it marks
 * one more run to follow (however many requests came meanwhile). The manager's planning, heartbeat, feed
 * reading and event pruning each need exactly this; one helper keeps the rule in one place.
 */
export class Rerun {
  readonly #task: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  readonly #enabled: () => boolean;
  #running: Promise<void> | undefined;
  #again = false;

  /** `onError` gets a failed run's error (it must not throw); `enabled` false turns requests into no-ops. */
  constructor(
    task: () => Promise<void>,
    onError: (error: unknown) => void,
    enabled: () => boolean = () => true,
  ) {
    this.#task = task;
    this.#onError = onError;
    this.#enabled = enabled;
  }

  /** True while a run is in flight. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Runs the task now, or once more after the run in flight. */
  request(): void {
    if (!this.#enabled()) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#task()
      .catch((error: unknown) => this.#onError(error))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }

  /** Resolves once no run is in flight, including the ones queued meanwhile (bounded by their number). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }
}
