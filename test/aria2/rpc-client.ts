/** A raw aria2 JSON-RPC client for tests: answers exactly as sent (no library in between). */

/** One JSON-RPC answer. */
export interface RpcAnswer {
  readonly status: number;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string };
}

/** Calls `method` with `token:SECRET` first over HTTP POST; returns the answer and its HTTP status. */
export function call(
  url: string,
  secret: string,
  method: string,
  params: readonly unknown[] = [],
): Promise<RpcAnswer> {
  return callRaw(url, method, [`token:${secret}`, ...params]);
}

/** Calls `method` with `params` as given (system.multicall carries the secret in each inner call). */
export async function callRaw(url: string, method: string, params: readonly unknown[]): Promise<RpcAnswer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: "t", method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { code: number; message: string } };
  return { status: response.status, ...body };
}

/** Calls `method` over HTTP GET as aria2 takes it: `?method=&id=&params=` with params in base64. */
export async function callGet(
  url: string,
  secret: string,
  method: string,
  params: readonly unknown[] = [],
): Promise<RpcAnswer> {
  const encoded = Buffer.from(JSON.stringify([`token:${secret}`, ...params])).toString("base64");
  const response = await fetch(`${url}?method=${method}&id=g&params=${encodeURIComponent(encoded)}`);
  const body = (await response.json()) as { result?: unknown; error?: { code: number; message: string } };
  return { status: response.status, ...body };
}

/** Sends a batch (a JSON array of calls, `token:SECRET` first in each); the answers are the result. */
export async function callBatch(
  url: string,
  secret: string,
  calls: readonly (readonly unknown[])[],
): Promise<RpcAnswer> {
  const body = calls.map(([method, ...params], i) => ({
    jsonrpc: "2.0",
    id: i,
    method,
    params: [`token:${secret}`, ...params],
  }));
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  return { status: response.status, result: await response.json() };
}

/** Like {@link call} but the result is required (throws with the error otherwise). */
export async function result<T = unknown>(
  url: string,
  secret: string,
  method: string,
  params: readonly unknown[] = [],
): Promise<T> {
  const answer = await call(url, secret, method, params);
  if (answer.error !== undefined) throw new Error(`${method}: ${answer.error.code} ${answer.error.message}`);
  return answer.result as T;
}

/** The notifications a WebSocket received, in order, with a bounded wait for the next one. */
export class Notifications {
  readonly seen: { method: string; gid: string }[] = [];
  readonly #socket: WebSocket;
  #waiters: (() => void)[] = [];

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { method?: string; params?: [{ gid: string }] };
      if (message.method === undefined || message.params === undefined) return;
      this.seen.push({ method: message.method.replace(/^aria2\./, ""), gid: message.params[0].gid });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Opens a WebSocket to `url` (http:// is turned into ws://). */
  static async open(url: string): Promise<Notifications> {
    const socket = new WebSocket(url.replace(/^http/, "ws"));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`WebSocket to ${url} failed`)), { once: true });
    });
    return new Notifications(socket);
  }

  /** The methods received for `gid`, in order. */
  of(gid: string): string[] {
    return this.seen.filter((n) => n.gid === gid).map((n) => n.method);
  }

  /** Waits (at most `ms`) until `method` was received for `gid`. */
  async waitFor(gid: string, method: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.of(gid).includes(method)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no ${method} for ${gid} within ${ms} ms; got ${JSON.stringify(this.seen)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * Polls tellStatus (every 25 ms, at most `ms`) until `check` holds: aria2c announces no event when its
 * first bytes arrive, so its progress can only be watched.
 */
export async function statusUntil(
  url: string,
  secret: string,
  gid: string,
  check: (status: Record<string, unknown>) => boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = await result<Record<string, unknown>>(url, secret, "aria2.tellStatus", [gid]);
    if (check(status)) return;
    if (Date.now() > deadline) throw new Error(`tellStatus ${gid} never matched: ${JSON.stringify(status)}`);
    await Bun.sleep(25);
  }
}
