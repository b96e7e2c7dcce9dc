import { open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Context } from "../context.ts";
import { HttpStatusError, UsageError } from "../errors.ts";
import { discardBody, httpGet, readBody } from "./http.ts";
import { MAX_METALINK_BYTES, type MetalinkFile, parseMetalink } from "./metalink.ts";

/** What `--metalink FILE|URL` read: the files it describes and where it came from. */
export interface LoadedMetalink {
  readonly files: readonly MetalinkFile[];
  /** The path or URL as given. */
  readonly where: string;
  /** The origin of the Metalink's URL when it was fetched; undefined for a local file. */
  readonly origin: string | undefined;
}

/**
 * Reads a Metalink from a local file (relative to `ctx.cwd`) or an http(s) URL (fetched with `headers`, whose
 * credentials go to that URL's origin only), at most MAX_METALINK_BYTES, and parses it (see parseMetalink).
 * A file that cannot be read or is too large is a UsageError naming it; a URL answering an error status is an
 * HttpStatusError.
 */
export async function loadMetalink(
  ctx: Context,
  where: string,
  headers: readonly (readonly [string, string])[],
  signal: AbortSignal,
): Promise<LoadedMetalink> {
  const url = URL.parse(where);
  const remote = url !== null && (url.protocol === "http:" || url.protocol === "https:");
  const text = remote
    ? await fetchText(ctx, where, headers, signal)
    : await readText(resolve(ctx.cwd, where));
  return { files: parseMetalink(text, where), where, origin: remote ? url.origin : undefined };
}

async function readText(path: string): Promise<string> {
  try {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      if (size > MAX_METALINK_BYTES) throw tooLarge(path);
      return await file.readFile("utf8");
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as { code?: string }).code ?? String(error);
    throw new UsageError(`--metalink: cannot read ${path} (${code})`, {
      flag: "--metalink",
      input: path,
      cause: error,
    });
  }
}

async function fetchText(
  ctx: Context,
  url: string,
  headers: readonly (readonly [string, string])[],
  signal: AbortSignal,
): Promise<string> {
  const response = await httpGet(ctx, url, { headers, signal, headTimeoutMs: 30_000 });
  if (response.status !== 200) {
    await discardBody(response);
    throw new HttpStatusError(`--metalink: HTTP ${response.status} for ${url}`, {
      url,
      status: response.status,
    });
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  let over = false;
  await readBody(
    response,
    (chunk) => {
      total += chunk.length;
      if (total > MAX_METALINK_BYTES) {
        over = true;
        return "stop";
      }
      chunks.push(chunk.slice());
      return "more";
    },
    signal,
  );
  if (over) throw tooLarge(url);
  return new TextDecoder().decode(Buffer.concat(chunks));
}

function tooLarge(where: string): UsageError {
  return new UsageError(`--metalink: ${where} is larger than ${MAX_METALINK_BYTES >> 20} MiB`, {
    flag: "--metalink",
    input: where,
  });
}
