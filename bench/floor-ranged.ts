/**
 * The Bun floor for one file over N connections: `bun bench/floor-ranged.ts URL OUT SIZE N` sends N ranged
 * fetches of equal parts at once and writes each chunk at its offset (positional writes on one descriptor).
 * The size is given (no probe); no verification, no resume, no fsync. A server that ignores Range (200) gets
 * the whole body from the first answer and the other requests are cancelled.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

const [url, out, sizeArg, countArg] = process.argv.slice(2);
if (url === undefined || out === undefined || sizeArg === undefined) {
  throw new Error("usage: bun bench/floor-ranged.ts URL OUT SIZE [N]");
}
const size = Number(sizeArg);
const count = Math.max(1, Math.min(Number(countArg ?? "8"), size));
const fd = openSync(out, "w");
ftruncateSync(fd, size);
const aborts = Array.from({ length: count }, () => new AbortController());
let whole = false;

async function part(index: number): Promise<void> {
  const from = Math.floor((size * index) / count);
  const to = Math.floor((size * (index + 1)) / count) - 1;
  const signal = (aborts[index] as AbortController).signal;
  try {
    const response = await fetch(url as string, { headers: { range: `bytes=${from}-${to}` }, signal });
    if (response.body === null) throw new Error(`${url}: no body`);
    let at = from;
    if (response.status === 200) {
      if (whole) return void (await response.body.cancel());
      whole = true;
      for (const [i, other] of aborts.entries()) if (i !== index) other.abort();
      at = 0;
    } else if (response.status !== 206) throw new Error(`${url}: HTTP ${response.status}`);
    for await (const chunk of response.body) {
      writeSync(fd, chunk, 0, chunk.byteLength, at);
      at += chunk.byteLength;
    }
  } catch (error) {
    // Cancelled because another request got the whole body: not a failure.
    if (!signal.aborted) throw error;
  }
}

await Promise.all(Array.from({ length: count }, (_, i) => part(i)));
closeSync(fd);
