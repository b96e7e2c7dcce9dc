import { afterAll } from "bun:test";
import { type RawOrigin, type RawScript, serveBytes, startRawOrigin } from "./raw-origin.ts";

/**
 * The raw origins of one test file: call once at the top of the file; the function it returns starts an
 * origin running `script`, and every one started is closed after the file's tests (afterAll).
 */
export function rawOrigins(): (script: RawScript) => Promise<RawOrigin> {
  const started: RawOrigin[] = [];
  afterAll(async () => {
    for (const o of started.splice(0)) await o.close();
  });
  return async (script) => {
    const origin = await startRawOrigin(script);
    started.push(origin);
    return origin;
  };
}

/** A script that answers every request like a plain correct server with `body` (serveBytes), plus `headers`. */
export function serveBody(body: Uint8Array, headers = ""): RawScript {
  return (request, socket) => serveBytes(request, socket, body, headers);
}
