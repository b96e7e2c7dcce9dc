import { buildCommand } from "@stricli/core";
import { header, httpUrl, integerIn } from "../flag-parsers.ts";
import { sourceFlags } from "../source-flags.ts";

/** Flags of `dlm add`. */
export interface AddFlags {
  readonly inputFile?: string;
  readonly output?: string;
  readonly dir?: string;
  readonly checksum?: string;
  readonly checksumFile?: string;
  readonly header?: readonly (readonly [string, string])[];
  readonly connections?: number;
  readonly priority?: number;
  readonly label?: readonly string[];
  readonly paused?: boolean;
  readonly json?: boolean;
  readonly mirror?: readonly string[];
  readonly metalink?: string;
  readonly metalinkFile?: string;
}

/** `dlm add URL... [-i FILE]`: queue downloads in the running `dlm serve`; prints one line per download. */
export const addCommand = buildCommand({
  loader: async () => (await import("./add-run.ts")).runAdd,
  parameters: {
    flags: {
      ...sourceFlags({
        mirror: "Another http(s) URL of the same file (one URL only; repeatable)",
        metalink:
          "Queue the file a Metalink describes (a local FILE or an http(s) URL, read by this command)",
      }),
      inputFile: {
        kind: "parsed",
        parse: String,
        brief: "Read URLs from FILE (aria2 format: URL line, then indented out=, dir=, checksum= lines)",
        optional: true,
        placeholder: "FILE",
      },
      output: {
        kind: "parsed",
        parse: String,
        brief: "File name (one URL only)",
        optional: true,
        placeholder: "NAME",
      },
      dir: {
        kind: "parsed",
        parse: String,
        brief: "Directory under the daemon's --dir",
        optional: true,
        placeholder: "DIR",
      },
      checksum: {
        kind: "parsed",
        parse: String,
        brief: "Expected checksum, ALGO:HEX, or auto (NAME.sha256... SHA256SUMS beside the URL)",
        optional: true,
        placeholder: "ALGO:HEX|auto",
      },
      checksumFile: {
        kind: "parsed",
        parse: httpUrl,
        brief: "URL of a sha256sum / sha512sum / BSD-style list holding the expected checksum",
        optional: true,
        placeholder: "URL",
      },
      header: {
        kind: "parsed",
        parse: header,
        brief: "Request header 'Name: value' (repeatable)",
        optional: true,
        variadic: true,
        placeholder: "HEADER",
      },
      connections: {
        kind: "parsed",
        parse: integerIn("--connections", 1, 64),
        brief: "Connections, 1..64 (default: the daemon's)",
        optional: true,
        placeholder: "N",
      },
      priority: {
        kind: "parsed",
        parse: integerIn("--priority", -1000, 1000),
        brief: "Higher runs first (default 0)",
        optional: true,
        placeholder: "N",
      },
      label: {
        kind: "parsed",
        parse: String,
        brief: "Label to filter by (repeatable)",
        optional: true,
        variadic: true,
        placeholder: "LABEL",
      },
      paused: { kind: "boolean", brief: "Queue paused", optional: true },
      json: { kind: "boolean", brief: "Machine output: one JSON object per download", optional: true },
    },
    aliases: { i: "inputFile", o: "output", c: "connections", H: "header" },
    positional: {
      kind: "array",
      parameter: { brief: "URL to download", parse: httpUrl, placeholder: "URL" },
    },
  },
  docs: { brief: "Queue downloads in the running dlm serve (start one with: dlm serve)" },
});
