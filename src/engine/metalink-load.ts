import { open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Context } from "../context.ts";
import { HttpStatusError, UsageError } from "../errors.ts";
import type { ExpectedChecksum } from "./checksum.ts";
import { discardBody, httpGet, readBody } from "./http.ts";
import { MAX_METALINK_BYTES, type MetalinkFile, parseMetalink } from "./metalink.ts";
import { fitName, isPlainFileName, nameFromUrl } from "./output-name.ts";

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

/**
 * The file to download: the one named `name` (the `name` attribute exactly), or the only one. A Metalink
 * with several files and no choice is refused, listing the names, so nothing is fetched by guess.
 */
export function chooseMetalinkFile(loaded: LoadedMetalink, name: string | undefined): MetalinkFile {
  const { files, where } = loaded;
  const names = files.map((f) => JSON.stringify(f.name)).join(", ");
  if (name !== undefined) {
    const found = files.find((f) => f.name === name);
    if (found !== undefined) return found;
    throw new UsageError(`--metalink-file: ${where} has no file ${JSON.stringify(name)} (it has ${names})`, {
      flag: "--metalink-file",
      input: name,
    });
  }
  const only = files[0];
  if (files.length === 1 && only !== undefined) return only;
  throw new UsageError(
    `--metalink: ${where} describes ${files.length} files (${names}): choose one with --metalink-file NAME`,
    { flag: "--metalink", input: where },
  );
}

/**
 * The output name of a Metalink file: the last part of its `name` (a Metalink may name a path; dlm writes
 * into the output directory only, never into a directory the document chose), if that part is a plain file
 * name (see isPlainFileName: no `..`, no leading dot, no control characters); else the name from its first URL.
 */
export function metalinkOutputName(file: MetalinkFile): string {
  const last = file.name.split(/[/\\]/).pop() ?? "";
  const fitted = fitName(last);
  if (isPlainFileName(fitted)) return fitted;
  return nameFromUrl(file.urls[0]?.url ?? "") ?? "download";
}

/** What one Metalink file asks to download, in the terms Add and `dlm get` take. */
export interface MetalinkDownload {
  /** The most preferred http(s) URL. */
  readonly url: string;
  /** The other URLs, most preferred first. */
  readonly mirrors: readonly string[];
  readonly checksum: ExpectedChecksum | undefined;
  /** A plain file name (see metalinkOutputName). */
  readonly output: string;
}

/** The download a Metalink file describes (pieces aside: see MetalinkFile.pieces). */
export function metalinkDownload(file: MetalinkFile): MetalinkDownload {
  const [main, ...rest] = file.urls;
  // parseMetalink refuses a file without an http(s) URL; this guards the type only.
  if (main === undefined) {
    throw new UsageError(`--metalink: file ${JSON.stringify(file.name)} has no URL`, { flag: "--metalink" });
  }
  return {
    url: main.url,
    mirrors: rest.map((u) => u.url),
    checksum: file.hash,
    output: metalinkOutputName(file),
  };
}
