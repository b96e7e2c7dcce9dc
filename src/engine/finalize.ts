import { stat } from "node:fs/promises";
import { IntegrityError } from "../errors.ts";
import { digestsMatch } from "./checksum.ts";
import type { PrefixHasher } from "./prefix-hasher.ts";
import type { PreparedDownload } from "./prepare.ts";
import { lengthOf, remainingOf, type Segment } from "./segment.ts";
import { placeFile } from "./storage/place-file.ts";
import type { Sink } from "./storage/sink.ts";
import type { VerifiedFile } from "./verify.ts";

/** Inputs of the last step of a download. */
export interface FinalizeInput {
  readonly prepared: PreparedDownload;
  readonly sink: Sink;
  readonly segments: readonly Segment[];
  readonly prefix: PrefixHasher;
}

/**
 * Proves the bytes are the file before they get its name: every segment complete and stored, segments tile
 * the output without gaps, the hashed length equals the expected size, `--checksum` matches; then the data
 * is moved onto the final name (never over an existing file without --force). Any failure is an
 * `IntegrityError` and leaves nothing under the final name.
 */
export async function finalizeDownload(input: FinalizeInput): Promise<VerifiedFile> {
  const { prepared, sink, segments, prefix } = input;
  const output = prepared.output;
  const ordered = [...segments].sort((a, b) => a.start - b.start);
  let expectedStart = prepared.mode === "range" ? prepared.first : 0;
  for (const segment of ordered) {
    if (remainingOf(segment) > 0 || segment.start !== expectedStart) {
      throw new IntegrityError(
        `${output}: segment ${segment.id} is incomplete or misplaced; resume to fetch it`,
        {
          file: output,
          segment: segment.id,
        },
      );
    }
    const stored = await sink.storedBytes(segment);
    if (stored < lengthOf(segment)) {
      throw new IntegrityError(
        `${output}: segment ${segment.id} has ${stored} bytes on disk, expected ${lengthOf(segment)}`,
        {
          file: output,
          segment: segment.id,
          expected: String(lengthOf(segment)),
          actual: String(stored),
        },
      );
    }
    expectedStart = segment.end + 1;
  }
  // In place, the file's fsync runs while the hash finishes (the hash reads by path; the file stays where it
  // is); parts are assembled by renaming them, so the hash must be done before.
  const completing = sink.kind === "in-place" ? sink.complete(ordered) : undefined;
  // A failed hash must not leave the fsync's failure unobserved.
  completing?.catch(() => undefined);
  const digests = await prefix.finish();
  const size = expectedStart - (prepared.mode === "range" ? prepared.first : 0);
  const expectedSize = prepared.last === undefined ? size : prepared.last - prepared.first + 1;
  if (size !== expectedSize || digests.hashedBytes !== expectedSize) {
    throw new IntegrityError(
      `${output}: size mismatch: expected ${expectedSize} bytes, got ${digests.hashedBytes}`,
      {
        file: output,
        expected: String(expectedSize),
        actual: String(digests.hashedBytes),
      },
    );
  }
  const sha256 = digests.hex["sha256"] ?? "";
  const expected = prepared.state.checksum;
  if (expected !== undefined) {
    const actual = digests.hex[expected.algorithm] ?? "";
    if (!digestsMatch(actual, expected.hex)) {
      const from = sourceOf(prepared);
      throw new IntegrityError(
        `${output}: ${expected.algorithm} mismatch: expected ${expected.hex}${from === undefined ? "" : ` (from ${from})`}, got ${actual}; the data stays in ${prepared.sidecar}`,
        { file: output, expected: expected.hex, actual, ...(from === undefined ? {} : { url: from }) },
      );
    }
  }
  const complete = await (completing ?? sink.complete(ordered));
  const onDisk = (await stat(complete)).size;
  if (onDisk !== expectedSize) {
    throw new IntegrityError(`${output}: assembled file has ${onDisk} bytes, expected ${expectedSize}`, {
      file: output,
      expected: String(expectedSize),
      actual: String(onDisk),
    });
  }
  await placeFile(complete, output, prepared.request.force);
  return {
    path: output,
    bytes: expectedSize,
    sha256,
    checked:
      expected === undefined
        ? undefined
        : { algorithm: expected.algorithm, hex: expected.hex, source: sourceOf(prepared) ?? "state.json" },
    completeness: prepared.last !== undefined || expected !== undefined ? "verified" : "unverified",
  };
}

/** Where the expected sum came from, when this run knows (a resumed run's may be only in state.json). */
function sourceOf(prepared: PreparedDownload): string | undefined {
  const given = prepared.request.checksum;
  return given !== undefined && given.hex === prepared.state.checksum?.hex
    ? (given.source ?? "--checksum")
    : undefined;
}
