import { mirrorUrl } from "./flag-parsers.ts";

/** The help lines that differ between `dlm get` (downloads now) and `dlm add` (queues on the daemon). */
export interface SourceFlagBriefs {
  readonly mirror: string;
  readonly metalink: string;
}

/**
 * `--mirror URL` (repeatable), `--metalink FILE|URL` and `--metalink-file NAME`, shared by `dlm get` and
 * `dlm add` so both parse and name them alike; only the help lines are the command's own.
 */
export function sourceFlags(briefs: SourceFlagBriefs) {
  return {
    mirror: {
      kind: "parsed",
      parse: mirrorUrl,
      brief: briefs.mirror,
      optional: true,
      variadic: true,
      placeholder: "URL",
    },
    metalink: {
      kind: "parsed",
      parse: String,
      brief: briefs.metalink,
      optional: true,
      placeholder: "FILE|URL",
    },
    metalinkFile: {
      kind: "parsed",
      parse: String,
      brief: "Which file of a Metalink that describes several (its name attribute) (default: the only one)",
      optional: true,
      placeholder: "NAME",
    },
  } as const;
}
