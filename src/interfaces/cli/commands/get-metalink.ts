import { isCredentialHeader } from "../../../engine/credential-headers.ts";
import type { DownloadRequest } from "../../../engine/download-request.ts";
import { chooseMetalinkFile, metalinkDownload } from "../../../engine/metalink-choice.ts";
import { loadMetalink } from "../../../engine/metalink-load.ts";
import { UsageError } from "../../../errors.ts";
import type { CliContext } from "../cli-context.ts";
import { type GetFlags, requestFromFlags } from "./get.ts";

/** `--metalink FILE|URL` and `--metalink-file NAME` of `dlm get` and `dlm add`. */
export interface MetalinkFlags {
  readonly metalink?: string;
  readonly metalinkFile?: string;
}

/**
 * The download a Metalink describes (RFC 5854; 3.0 too): its most preferred http(s) URL is the main one, the
 * others are mirrors (after any --mirror), its hash the expected checksum unless --checksum names one, its
 * pieces the piece hashes, and its name (last part only, if plain) the output unless -o. Credentials given
 * with -H go to the origin of the Metalink's URL only: when it was fetched from elsewhere than the file's
 * main URL, they are not passed on (a document must not choose where a user's secrets go).
 */
export async function requestFromMetalink(
  cli: CliContext,
  flags: GetFlags & MetalinkFlags,
  urls: readonly string[],
): Promise<DownloadRequest> {
  const where = flags.metalink ?? "";
  if (urls.length > 0) {
    throw new UsageError(`--metalink: takes no URL besides the Metalink, got ${JSON.stringify(urls[0])}`, {
      flag: "--metalink",
      input: urls[0] ?? "",
    });
  }
  const loaded = await loadMetalink(cli.dlm, where, flags.header ?? [], new AbortController().signal);
  const file = chooseMetalinkFile(loaded, flags.metalinkFile);
  const described = metalinkDownload(file);
  const sameOrigin = loaded.origin === undefined || loaded.origin === new URL(described.url).origin;
  const headers = (flags.header ?? []).filter(([name]) => sameOrigin || !isCredentialHeader(name));
  const request = requestFromFlags(described.url, {
    ...flags,
    header: headers,
    output: flags.output ?? described.output,
    mirror: [...(flags.mirror ?? []), ...described.mirrors],
    ...(flags.checksum === undefined && described.checksum !== undefined
      ? { checksum: described.checksum }
      : {}),
  });
  return file.pieces === undefined ? request : { ...request, pieceHashes: file.pieces };
}
