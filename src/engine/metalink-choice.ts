// Which file of a Metalink to download, and what it asks for in the terms of a request (no I/O).
import { UsageError } from "../errors.ts";
import type { ExpectedChecksum } from "./checksum.ts";
import type { MetalinkFile } from "./metalink.ts";
import type { LoadedMetalink } from "./metalink-load.ts";
import { fitName, isPlainFileName, nameFromUrl } from "./output-name.ts";

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
