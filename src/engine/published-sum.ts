import { basename } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { IntegrityError } from "../errors.ts";
import type { ExpectedChecksum } from "./checksum.ts";
import { checksumCandidates, urlBaseName } from "./checksum-auto.ts";
import { parseChecksumList, pickEntry } from "./checksum-file.ts";
import type { DownloadRequest } from "./download-request.ts";
import type { PreparedDownload } from "./prepare.ts";
import { readSumsText } from "./sums-text.ts";

/** The names a sums list is searched for: the output's (when given), then the URL's. */
function namesOf(request: DownloadRequest): string[] {
  const names = request.output === undefined ? [] : [basename(request.output)];
  const fromUrl = urlBaseName(request.url);
  return fromUrl === "" || names.includes(fromUrl) ? names : [...names, fromUrl];
}

/**
 * Turns `--checksum-file URL|PATH` or `--checksum auto` into the request's `checksum` (with its `source`),
 * before the download starts, so a sum that cannot be found fails before a byte is fetched and the sum is
 * recorded in state.json for a resume. A request with neither (or with `--checksum`) is returned as is.
 * Missing entry or nothing found: IntegrityError (exit 6), naming the file or the places tried.
 */
export async function resolvePublishedSum(
  ctx: Context,
  request: DownloadRequest,
  signal: AbortSignal,
  log: Logger,
): Promise<DownloadRequest> {
  if (request.checksum !== undefined || (request.checksumFile === undefined && !request.checksumAuto))
    return request;
  const names = namesOf(request);
  const settled = (checksum: ExpectedChecksum): DownloadRequest => ({
    ...request,
    checksum,
    checksumFile: undefined,
    checksumAuto: false,
  });
  const file = request.checksumFile;
  if (file !== undefined) {
    const text = (await readSumsText(ctx, request, file, signal)) ?? "";
    const entry = pickEntry(parseChecksumList(text), names);
    if (entry === undefined) {
      throw new IntegrityError(`--checksum-file ${file} has no sum for ${names.join(" or ")}`, {
        file,
        expected: names.join(" or "),
        hint: "name the output as the list does (-o NAME), or pass --checksum ALGO:HEX",
      });
    }
    return settled({ algorithm: entry.algorithm, hex: entry.hex, source: file });
  }
  const tried: string[] = [];
  for (const candidate of checksumCandidates(request.url)) {
    tried.push(candidate);
    const text = await readSumsText(ctx, request, candidate, signal, true);
    if (text === undefined) continue;
    const entry = pickEntry(parseChecksumList(text), names);
    if (entry === undefined) continue;
    log.info("--checksum auto: {algorithm} from {source}", { algorithm: entry.algorithm, source: candidate });
    return settled({ algorithm: entry.algorithm, hex: entry.hex, source: candidate });
  }
  throw new IntegrityError(
    `--checksum auto: no published sum for ${names.join(" or ")} (tried ${tried.join(", ")})`,
    {
      url: request.url,
      hint: "pass --checksum-file URL or --checksum ALGO:HEX, or drop --checksum auto to download unverified",
    },
  );
}

/**
 * A prepared download without an expected sum takes the first digest its server stated in a header
 * (Repr-Digest, Digest, x-amz-checksum-sha256, x-goog-hash; see digest-headers.ts); one that has a sum keeps
 * it. The sum lands in state.json like `--checksum`'s, so a mismatch is exit 6 with nothing under the name.
 */
export function withHeaderDigest(prepared: PreparedDownload, log: Logger): PreparedDownload {
  if (prepared.state.checksum !== undefined) return prepared;
  const digest = prepared.remote.digests?.[0];
  if (digest === undefined) return prepared;
  log.info("checking {algorithm} from the {header} header", {
    algorithm: digest.algorithm,
    header: digest.header,
  });
  const checksum = { algorithm: digest.algorithm, hex: digest.hex };
  return {
    ...prepared,
    request: { ...prepared.request, checksum: { ...checksum, source: `${digest.header} header` } },
    state: { ...prepared.state, checksum },
  };
}
