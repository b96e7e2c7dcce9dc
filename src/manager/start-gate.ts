/**
 * Downloads being claimed and started: between the claim (the row says running, leased to this node) and
 * the job's registration there is no job to stop, so a pause or remove arriving then waits here for the
 * start to settle instead of finding nothing to do.
 */
export class StartGate {
  readonly #starting = new Map<number, Promise<void>>();

  /** True while `id` is being started. */
  has(id: number): boolean {
    return this.#starting.has(id);
  }

  /** Resolves once a start of `id` in flight has settled (at once when none is). */
  async settled(id: number): Promise<void> {
    await this.#starting.get(id);
  }

  /** Runs `start` (the claim of `ids`, then their starts) with each id marked as starting until it settles. */
  async around(ids: readonly number[], start: () => Promise<void>): Promise<void> {
    const run = start();
    const marker = run.then(
      () => undefined,
      () => undefined,
    );
    for (const id of ids) this.#starting.set(id, marker);
    try {
      await run;
    } finally {
      for (const id of ids) if (this.#starting.get(id) === marker) this.#starting.delete(id);
    }
  }
}
