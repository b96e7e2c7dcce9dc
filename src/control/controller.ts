import { rm } from "node:fs/promises";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { DownloadRun, PauseRequest } from "../engine/download.ts";
import type { DownloadRequest } from "../engine/download-request.ts";
import { type PreparedDownload, prepareDownload, sidecarOf } from "../engine/prepare.ts";
import { resolvePublishedSum, withHeaderDigest } from "../engine/published-sum.ts";
import type { TokenBucket } from "../engine/rate-limiter.ts";
import type { VerifiedFile } from "../engine/verify.ts";
import { CancelledError, DlmError, InterruptedError } from "../errors.ts";
import { logger } from "../log.ts";
import { buildSnapshot } from "../progress/build-snapshot.ts";
import { ProgressHub } from "../progress/hub.ts";
import { RateMeter } from "../progress/meter.ts";
import type { DownloadState, ProgressSnapshot } from "../progress/snapshot.ts";
import { applyCommand, type Command, type Transition } from "./transitions.ts";

const SAMPLE_MS = 250;
/** Commands and state changes: `DLM_LOG=control=debug` shows every move of the state machine. */
const CONTROL_LOG = logger("control");

/** Hooks the interface that started the download uses to talk to its user. */
export interface ControllerEvents {
  /**
   * Speed limits the download is charged to besides its own `--limit` (dlm serve's global and per-download
   * buckets, a batch's shared one); their owner may change their rates at any time.
   */
  readonly sharedLimits?: readonly TokenBucket[];
  /** The server was probed and the plan is known (before the first byte is fetched). */
  readonly onPrepared?: (prepared: PreparedDownload) => void;
  /** Every byte is in: verifying and placing the file (no connection is used from here on). */
  readonly onVerifying?: () => void;
}

/**
 * How a run ended for the owner that stopped it or not: the verified file; the reason given to `stop` (the
 * run ended because of it); or the failure.
 */
export type RunOutcome<R> =
  | { readonly kind: "finished"; readonly file: VerifiedFile }
  | { readonly kind: "stopped"; readonly reason: R; readonly error: unknown }
  | { readonly kind: "failed"; readonly error: unknown };

/**
 * The one shared state of a download. The CLI, signals, the HTTP API and the RPC service act only through
 * it: it owns the state machine, the abort controller of the current run, the progress meter and the hub
 * every watcher subscribes to. A pause stops the run (state saved); with `keepAliveWhenPaused` the
 * controller then waits for `resume` or `cancel`, otherwise `run()` ends with `InterruptedError`.
 */
export class Controller<R = never> {
  readonly hub = new ProgressHub();
  /** Why the owner stopped the run (see stop). */
  #stopReason: R | undefined;
  readonly #ctx: Context;
  readonly #log: Logger;
  readonly #events: ControllerEvents;
  readonly #meter = new RateMeter();
  #request: DownloadRequest;
  #state: DownloadState = "probing";
  #prepared: PreparedDownload | undefined;
  #run: DownloadRun | undefined;
  #abort = new AbortController();
  #keepAliveWhenPaused = false;
  #wake: (() => void) | undefined;
  #startedAt: number;
  #error: DlmError | undefined;

  constructor(ctx: Context, request: DownloadRequest, log: Logger, events: ControllerEvents = {}) {
    this.#ctx = ctx;
    this.#request = request;
    this.#log = log;
    this.#events = events;
    this.#startedAt = ctx.monotonic();
  }

  /** Current state. */
  get state(): DownloadState {
    return this.#state;
  }

  /** Output path, once known. */
  get output(): string | undefined {
    return this.#prepared?.output;
  }

  /** Keep the process waiting for `resume` after a pause (a control plane is listening). */
  keepAliveWhenPaused(value: boolean): void {
    this.#keepAliveWhenPaused = value;
  }

  /** The current snapshot, computed now. */
  snapshot(): ProgressSnapshot {
    return buildSnapshot({
      output: this.#prepared?.output ?? this.#request.output ?? "",
      url: this.#request.url,
      state: this.#state,
      status: this.#run?.status(),
      meter: this.#meter,
      nowMs: this.#ctx.monotonic(),
      stallTimeoutMs: this.#request.stallTimeoutMs,
      elapsedMs: this.#ctx.monotonic() - this.#startedAt,
      error: this.#error,
    });
  }

  /** Applies a user command; returns the transition (not ok = impossible in this state). */
  command(command: Command, source: string): Transition {
    const transition = applyCommand(this.#state, command);
    if (!transition.ok) {
      CONTROL_LOG.info("{command} from {source} refused: {reason}", {
        command,
        source,
        reason: transition.reason,
        state: this.#state,
      });
      return transition;
    }
    if (transition.next === this.#state) return transition;
    CONTROL_LOG.info("{command} requested by {source}", { command, source, from: this.#state });
    if (command === "pause") {
      this.#setState("paused");
      this.#abort.abort(new PauseRequest(source));
    } else if (command === "resume") {
      this.#setState("running");
      this.#wake?.();
    } else {
      this.#setState("cancelled");
      this.#abort.abort(new PauseRequest(source));
      this.#wake?.();
    }
    return transition;
  }

  /**
   * The owner stops the run for `reason`: a pause (state saved), or with `cancel` a cancel (sidecar
   * removed). The first reason stays unless `replace` (a reason that overrides any other, e.g. the lease is
   * gone). False when the state refuses (verifying: the run ends as it ends). `outcome()` reports it.
   */
  stop(reason: R, source: string, options: { cancel?: boolean; replace?: boolean } = {}): boolean {
    const transition = this.command(options.cancel === true ? "cancel" : "pause", source);
    if (!transition.ok) return false;
    if (this.#stopReason === undefined || options.replace === true) this.#stopReason = reason;
    return true;
  }

  /** The reason the owner stopped the run with, once `stop` was accepted. */
  get stopReason(): R | undefined {
    return this.#stopReason;
  }

  /** Runs the download to the end and says how it ended (never rejects): see RunOutcome. */
  outcome(): Promise<RunOutcome<R>> {
    return this.run().then(
      (file): RunOutcome<R> => ({ kind: "finished", file }),
      (error: unknown): RunOutcome<R> => {
        const reason = this.#stopReason;
        return reason === undefined ? { kind: "failed", error } : { kind: "stopped", reason, error };
      },
    );
  }

  /** Signal handling: pause, save state and make `run()` end with `InterruptedError`. */
  interrupt(source: string): void {
    this.#keepAliveWhenPaused = false;
    if (this.#state === "paused") this.#wake?.();
    else this.command("pause", source);
  }

  /** Runs the download to the end: a verified file, or the error that stopped it. */
  async run(): Promise<VerifiedFile> {
    const sampler = setInterval(() => this.#sample(), SAMPLE_MS);
    try {
      for (;;) {
        try {
          const result = await this.#runOnce();
          this.#setState("finished");
          return result;
        } catch (error) {
          if (this.#state === "cancelled") {
            await this.#discard();
            throw this.#fail(
              new CancelledError(`${this.output ?? this.#request.url}: cancelled; partial data removed`, {
                file: this.output,
              }),
              "cancelled",
            );
          }
          if (error instanceof InterruptedError && this.#keepAliveWhenPaused) {
            await this.#waitForResumeOrCancel();
            // Woken by a signal (interrupt) rather than resume or cancel: end as interrupted, state saved.
            if (this.#state === "paused") throw this.#fail(error, "paused");
            // Loops back to run again, or to the cancelled branch above.
            continue;
          }
          throw this.#fail(error, error instanceof InterruptedError ? "paused" : "failed");
        }
      }
    } finally {
      clearInterval(sampler);
      this.hub.publish(this.snapshot());
    }
  }

  async #runOnce(): Promise<VerifiedFile> {
    if (this.#state === "cancelled") throw new CancelledError("cancelled");
    this.#abort = new AbortController();
    const signal = this.#abort.signal;
    if (this.#prepared === undefined) this.#setState("probing");
    try {
      // A published sum (--checksum-file, --checksum auto) is found before anything is fetched.
      this.#request = await resolvePublishedSum(this.#ctx, this.#request, signal, this.#log);
      this.#prepared = withHeaderDigest(
        await prepareDownload(this.#ctx, this.#request, signal, this.#log),
        this.#log,
      );
    } catch (error) {
      if (error instanceof PauseRequest) {
        throw new InterruptedError(
          `${this.#request.url}: interrupted before the download started; nothing to resume`,
          {
            url: this.#request.url,
          },
        );
      }
      throw error;
    }
    // Later runs (after a pause) continue this very output, whatever name the server suggested.
    this.#request = { ...this.#request, output: this.#prepared.output, restart: false };
    this.#events.onPrepared?.(this.#prepared);
    if (signal.aborted) {
      // Paused between the probe and the first byte: a pause like any other (the state file exists).
      const reason: unknown = signal.reason;
      if (!(reason instanceof PauseRequest)) throw reason;
      throw new InterruptedError(
        `${this.#prepared.output}: paused (${reason.source}); resume with: dlm resume ${this.#prepared.output}`,
        { file: this.#prepared.output },
      );
    }
    this.#run = new DownloadRun(
      this.#ctx,
      this.#prepared,
      this.#log,
      (phase) => {
        // Synchronous: from this call on, a pause or cancel is refused (the engine no longer listens).
        if (phase === "verifying") {
          this.#setState("verifying");
          this.#events.onVerifying?.();
        }
      },
      this.#events.sharedLimits,
    );
    this.#meter.reset();
    this.#setState("running");
    return await this.#run.run(signal);
  }

  async #waitForResumeOrCancel(): Promise<void> {
    this.#sample();
    // A resume or cancel that came while the run was still winding down found no one to wake: go on.
    if (this.#state !== "paused") return;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    this.#wake = undefined;
  }

  async #discard(): Promise<void> {
    const output = this.#prepared?.output;
    if (output !== undefined) await rm(sidecarOf(output), { recursive: true, force: true });
  }

  #fail(error: unknown, state: DownloadState): unknown {
    if (error instanceof DlmError) this.#error = error;
    if (state !== "paused") this.#setState(state);
    return error;
  }

  #setState(state: DownloadState): void {
    if (this.#state === state) return;
    CONTROL_LOG.debug("state {from} -> {to}", { from: this.#state, to: state, download: this.output });
    this.#state = state;
    this.#sample();
  }

  #sample(): void {
    const status = this.#run?.status();
    if (status !== undefined) this.#meter.sample(this.#ctx.monotonic(), status.bytesThisRun);
    this.hub.publish(this.snapshot());
  }
}
