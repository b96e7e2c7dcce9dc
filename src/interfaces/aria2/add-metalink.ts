import { MAX_METALINK_BYTES, type MetalinkFile, parseMetalink } from "../../engine/metalink.ts";
import { type MetalinkDownload, metalinkDownload } from "../../engine/metalink-choice.ts";
import { DlmError } from "../../errors.ts";
import type { NewDownload } from "../../manager/download-record.ts";
import { Aria2Fault } from "./aria2-fault.ts";
import type { Aria2Session } from "./aria2-session.ts";
import { downloadInput } from "./download-input.ts";
import { gidOf } from "./gid.ts";
import { type MappedOptions, mapOptions, readOptions } from "./options.ts";
import { intParam, type Params, stringParam } from "./params.ts";
import { moveInQueue } from "./queue-move.ts";

/** Strict base64 (whitespace allowed, as aria2's decoder skips it): anything else is refused, not guessed. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The Metalink document of an addMetalink call: base64 of the XML, at most MAX_METALINK_BYTES decoded. */
export function metalinkText(encoded: string): string {
  const compact = encoded.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new Aria2Fault("addMetalink: the metalink parameter is not base64");
  }
  if ((compact.length / 4) * 3 > MAX_METALINK_BYTES + 3) {
    throw new Aria2Fault(`addMetalink: the Metalink document is larger than ${MAX_METALINK_BYTES} bytes`);
  }
  return new TextDecoder().decode(Buffer.from(compact, "base64"));
}

/**
 * The files of a Metalink document, as the engine's parser reads them (only http/https URLs kept). Its
 * refusal (not XML, no Metalink, a file without an http(s) URL, a bad hash) becomes aria2's error answer.
 */
export function metalinkFiles(text: string): MetalinkFile[] {
  try {
    return parseMetalink(text, "addMetalink document");
  } catch (error) {
    // The parser words its errors for `dlm get --metalink`; over RPC there is no flag to name.
    if (error instanceof DlmError) throw new Aria2Fault(error.message.replace(/^--metalink: /, ""));
    throw error;
  }
}

/**
 * One file's download in the manager's terms: its most preferred URL, the others as mirrors, its hash as
 * the checksum (unless the call's `checksum` option gives one), its name's last part as the output name
 * (unless `out` is given; a name with directories or `..` never leads out of the download directory).
 */
export function metalinkInput(described: MetalinkDownload, mapped: MappedOptions): NewDownload {
  const hash = described.checksum;
  return downloadInput(described.url, mapped, {
    output: described.output,
    checksum: hash === undefined ? undefined : `${hash.algorithm}:${hash.hex}`,
    mirrors: described.mirrors,
  });
}

/**
 * aria2.addMetalink(metalink, options, position): one download per file the document describes, in its
 * order, placed from `position` on when given; answers their GIDs. `out` and `checksum` name one file, so
 * they are refused for a document of several files rather than given to all of them.
 */
export async function addMetalink(session: Aria2Session, params: Params): Promise<string[]> {
  const files = metalinkFiles(metalinkText(stringParam(params, 0, "metalink")));
  const options = readOptions(params[1]);
  for (const name of ["out", "checksum"]) {
    if (files.length > 1 && options.has(name)) {
      throw new Aria2Fault(
        `addMetalink: option ${name} names one file, and this Metalink describes ${files.length}`,
      );
    }
  }
  const position = params[2] === undefined ? undefined : intParam(params, 2, "position");
  // The document and the options are checked for every file before the first is queued.
  const inputs = files.map((file) => {
    const described = metalinkDownload(file);
    const mapped = mapOptions(options, session.deps.baseDir, 1 + described.mirrors.length);
    return { input: metalinkInput(described, mapped), ignored: mapped.ignored, size: file.size };
  });
  const ignored = inputs[0]?.ignored ?? [];
  if (ignored.length > 0) session.deps.log.info("aria2: options ignored: {names}", { names: ignored });
  const gids: string[] = [];
  for (const [index, { input, size }] of inputs.entries()) {
    const { record } = await session.manager.add(input);
    if (size !== undefined) session.describedSizes.set(record.id, size);
    if (position !== undefined) await moveInQueue(session.manager, record.id, position + index, "POS_SET");
    gids.push(gidOf(record.id));
  }
  return gids;
}
