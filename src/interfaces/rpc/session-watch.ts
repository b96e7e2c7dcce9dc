import type { ServerHttp2Session } from "node:http2";

/** How long a closed (GOAWAY) connection's peer gets to hang up before it is cut, ms. */
const GOAWAY_GRACE_MS = 1000;

/**
 * The bounds of one HTTP/2 connection: closed when no request with the token came within `unauthenticatedMs`
 * of its start (a connection that only holds a socket, or only sends refused requests), and when it had no
 * stream open for `idleMs` (a long watch keeps it; a client between calls reconnects at no cost).
 */
export class SessionWatch {
  readonly #session: ServerHttp2Session;
  readonly #idleMs: number;
  readonly #closed: (why: string) => void;
  #open = 0;
  #authenticated = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    session: ServerHttp2Session,
    unauthenticatedMs: number,
    idleMs: number,
    closed: (why: string) => void,
  ) {
    this.#session = session;
    this.#idleMs = idleMs;
    this.#closed = closed;
    this.#arm(unauthenticatedMs, "no request with the token");
  }

  /** A stream that passed the guard: the connection is authenticated and busy until the stream closes. */
  opened(stream: { once(event: "close", listener: () => void): unknown }): void {
    this.#authenticated = true;
    this.#open += 1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    stream.once("close", () => {
      this.#open -= 1;
      if (this.#open === 0) this.#arm(this.#idleMs, "idle");
    });
  }

  /** Stops the timer (the connection closed). */
  dispose(): void {
    clearTimeout(this.#timer);
  }

  #arm(ms: number, why: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#open > 0 || (why !== "idle" && this.#authenticated)) return;
      this.#closed(why);
      // GOAWAY lets a client see why; a peer that ignores it is cut a moment later.
      this.#session.close();
      setTimeout(() => this.#session.destroy(), GOAWAY_GRACE_MS).unref();
    }, ms);
    this.#timer.unref();
  }
}
