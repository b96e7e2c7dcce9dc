import type { ConnectRouter } from "@connectrpc/connect";
import { type Progress, ProgressService } from "../../gen/dlm/v1/progress_pb.ts";
import { isTerminalState, type ProgressSnapshot } from "../../progress/snapshot.ts";
import type { ControlTarget } from "../shared/control-target.ts";
import { streamOutcome, toEncodedProgress, toProgress } from "./progress-message.ts";

/** Counts the Watch streams in flight so a shutdown can let finished ones flush their last message. */
export class WatchTracker {
  #active = 0;
  #idle: (() => void)[] = [];

  /** Streams currently open. */
  get active(): number {
    return this.#active;
  }

  /** @internal Called by the service around each stream. */
  enter(): void {
    this.#active++;
  }

  /** @internal */
  leave(): void {
    this.#active--;
    if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once no stream is open, or after `timeoutMs`, whichever comes first. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.#active === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#idle.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * The stream behind `ProgressService.Watch`: the current progress at once, then every snapshot the hub
 * publishes (coalesced when this watcher reads slower than the hub ticks, so it never holds back the
 * download nor queues memory). It returns after a FINISHED message and throws the matching ConnectError after
 * a FAILED or CANCELLED one, or when the process stops first. Aborting `signal` (the client went away, or a
 * shutdown) ends the hub subscription at once.
 */
export async function* watchProgress(
  target: ControlTarget,
  signal: AbortSignal,
  binary = false,
): AsyncGenerator<Progress> {
  const wire = binary ? toEncodedProgress : toProgress;
  // Before the first tick the hub has nothing: compute the current view instead. Otherwise the hub's latest
  // is what the subscription yields first; a fresh snapshot on top of it could run ahead of the next tick's.
  const fresh = target.hub.latest() === undefined ? target.snapshot() : undefined;
  const subscription = target.hub.subscribe(signal);
  let last: ProgressSnapshot | undefined;
  try {
    if (fresh !== undefined) {
      last = fresh;
      yield wire(fresh);
    }
    if (last === undefined || !isTerminalState(last.state)) {
      for await (const snapshot of subscription) {
        last = snapshot;
        yield wire(snapshot);
      }
    }
  } finally {
    subscription.close();
  }
  if (signal.aborted) throw signal.reason;
  const error = streamOutcome(last);
  if (error !== undefined) throw error;
}

/** Registers ProgressService on a Connect router, counting streams in `tracker`. */
export function progressRoutes(
  target: ControlTarget,
  tracker: WatchTracker,
): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ProgressService, {
      async *watch(_request, context) {
        tracker.enter();
        try {
          // application/grpc, application/grpc-web+proto, application/connect+proto... are binary.
          const binary = !/json/i.test(context.requestHeader.get("content-type") ?? "");
          yield* watchProgress(target, context.signal, binary);
        } finally {
          tracker.leave();
        }
      },
    });
  };
}
