import { buildCommand } from "@stricli/core";
import { httpUrl } from "../flag-parsers.ts";

/** Flags of `dlm update ID`. */
export interface UpdateFlags {
  readonly url: string;
  readonly restart?: boolean;
  readonly json?: boolean;
}

/** `dlm update ID --url URL [--restart]`: a queued download's new URL, in the running dlm serve. */
export const updateCommand = buildCommand({
  loader: async () => (await import("./update-run.ts")).runUpdate,
  parameters: {
    flags: {
      url: {
        kind: "parsed",
        parse: httpUrl,
        brief: "The new http(s) URL of the same file (an expired link's fresh one)",
        placeholder: "URL",
      },
      restart: {
        kind: "boolean",
        brief:
          "Accept a URL that serves another file: discard the bytes already fetched (default off: exit 7)",
        optional: true,
      },
      json: { kind: "boolean", brief: "One JSON object", optional: true },
    },
    positional: {
      kind: "tuple",
      parameters: [{ brief: "The download's id (12 or d12)", parse: String, placeholder: "ID" }],
    },
  },
  docs: {
    brief:
      "Point a download of the running dlm serve at a new URL; only the same file (size, validator, bytes) unless --restart",
  },
});
