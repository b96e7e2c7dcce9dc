import { type TokenBucket, takeFromAll } from "../engine/rate-limiter.ts";

/** Statuses whose Response may not carry a body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Smallest piece a chunk is cut into before it is charged (bytes). Small, so that even at a few KiB/s
 * shared by several connections no wait comes near a stall timeout (waits add up across connections).
 */
const MIN_PIECE = 1024;

/**
 * A fetch whose response bodies are paced by token buckets: this is how the manager applies speed limits
 * (a download's own and the global one) without the engine knowing. Each chunk is handed on at once and the
 * stream then waits what the buckets say, so the engine's reader is slowed exactly as if the network were.
 * Chunks are cut into pieces of about a quarter second at the lowest limit, so no single wait comes near a
 * stall timeout. `buckets` is read per piece: limits changed while running apply at once.
 */
export function limitedFetch(
  inner: typeof fetch,
  buckets: () => readonly TokenBucket[],
  monotonic: () => number,
): typeof fetch {
  const paced = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const response = await inner(input, init);
    if (response.body === null || NO_BODY.has(response.status)) return response;
    const signal = init?.signal ?? undefined;
    const body = response.body.pipeThrough(pacer(buckets, monotonic, signal));
    const out = new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    // The engine reads `url` to learn where a redirect ended (a constructed Response has "").
    return Object.defineProperty(out, "url", { value: response.url });
  };
  return Object.assign(paced, { preconnect: inner.preconnect }) as typeof fetch;
}

function pacer(
  buckets: () => readonly TokenBucket[],
  monotonic: () => number,
  signal: AbortSignal | undefined,
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    async transform(chunk, controller) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const active = buckets().filter((bucket) => bucket.rate > 0);
        if (active.length === 0) {
          controller.enqueue(offset === 0 ? chunk : chunk.subarray(offset));
          return;
        }
        const lowest = Math.min(...active.map((bucket) => bucket.rate));
        const piece = chunk.subarray(offset, offset + Math.max(MIN_PIECE, Math.floor(lowest / 4)));
        offset += piece.byteLength;
        controller.enqueue(piece);
        const wait = takeFromAll(active, piece.byteLength, monotonic());
        if (wait > 0) await sleep(wait, signal);
      }
    },
  });
}

/** Waits `ms`, or less if `signal` aborts (the reader then sees the abort itself). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
