import { resolve } from "node:path";
import type { Context } from "../context.ts";
import { HttpStatusError, IntegrityError, UsageError } from "../errors.ts";
import type { DownloadRequest } from "./download-request.ts";
import { discardBody, httpGet, readBody } from "./http.ts";
import { credentialOriginOf } from "./prepare.ts";
import { assertFetchableUrl } from "./url-scheme.ts";

/** Largest sums file read (bytes): SHA256SUMS of a big release is a few KiB; more is not a list of sums. */
export const MAX_SUMS_BYTES = 1 << 20;

/** Something that looks like `scheme://`: a URL, never a path. */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** True when `where` (a `--checksum-file` value) names a URL rather than a local path. */
export function isUrlLike(where: string): boolean {
  return URL_LIKE.test(where);
}

/**
 * The text of a sums file, from a local path (relative to the user's directory) or an http(s) URL fetched as
 * the download's own requests are: the same headers, credentials only to the origin they were given for (the
 * download's URL's), redirects followed by dlm. Returns undefined for a URL that answers 404/403/410 when
 * `missingOk` (checksum auto probes candidates); any other status is an HttpStatusError. Bounded by
 * MAX_SUMS_BYTES and the stall timeout.
 */
export async function readSumsText(
  ctx: Context,
  request: DownloadRequest,
  where: string,
  signal: AbortSignal,
  missingOk = false,
): Promise<string | undefined> {
  if (!isUrlLike(where)) {
    const path = resolve(ctx.cwd, where);
    const file = Bun.file(path);
    if (!(await file.exists())) {
      throw new UsageError(`--checksum-file: no such file ${path}`, {
        flag: "--checksum-file",
        input: where,
      });
    }
    if (file.size > MAX_SUMS_BYTES) throw tooBig(where);
    return file.text();
  }
  const url = assertFetchableUrl(where, "--checksum-file").href;
  const response = await httpGet(ctx, url, {
    headers: request.headers.filter(([name]) => name.toLowerCase() !== "range"),
    credentialOrigin: credentialOriginOf(request),
    headTimeoutMs: request.stallTimeoutMs,
    signal,
  });
  if (response.status !== 200) {
    await discardBody(response);
    if (missingOk && [403, 404, 410].includes(response.status)) return undefined;
    throw new HttpStatusError(`HTTP ${response.status} for the checksum file ${url}`, {
      url,
      status: response.status,
    });
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  await readBody(
    response,
    (chunk) => {
      size += chunk.length;
      if (size > MAX_SUMS_BYTES) return "stop";
      parts.push(chunk.slice());
      return "more";
    },
    signal,
  );
  if (size > MAX_SUMS_BYTES) throw tooBig(url);
  return new TextDecoder().decode(Buffer.concat(parts));
}

function tooBig(where: string): IntegrityError {
  return new IntegrityError(
    `checksum file ${where} is larger than ${MAX_SUMS_BYTES} bytes; not a list of sums`,
    {
      url: where,
    },
  );
}
