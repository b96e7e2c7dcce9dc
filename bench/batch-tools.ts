import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

/** Downloads at once in every batch row: the issue's `-j 8`. */
export const BATCH_JOBS = 8;

/** What a batch tool's command line is built from. */
export interface BatchInput {
  /** Every file's URL and the name it must be saved under, in list order (the URL ends in that name). */
  readonly files: readonly { readonly url: string; readonly name: string }[];
  /** Output directory: exists, empty, and the tool's working directory (dlm puts a batch in its cwd). */
  readonly dir: string;
  /** A directory outside `dir` for the tool's list file. */
  readonly listDir: string;
  /** The Bun binary running the harness (dlm runs on the same one) and the repo root (for src/main.ts). */
  readonly bun: string;
  readonly repo: string;
  /** dlm compiled by `bun run build` for this run; undefined when not built (its row is skipped). */
  readonly dlmBinary?: string | undefined;
}

/** One row of a batch table: a downloader fetching the whole list, BATCH_JOBS files at once. */
export interface BatchTool {
  /** Short id for --tools. */
  readonly id: string;
  /** Row label: the command as a reader would type it. */
  readonly label: string;
  /** Executable looked up on PATH (undefined: the harness's own Bun). */
  readonly bin: string | undefined;
  /** Whether its exit means "every file verified" (it hashed them itself). */
  readonly selfVerifies: boolean;
  /** Runs the compiled dlm (BatchInput.dlmBinary): skipped with a note when there is none. */
  readonly needsBinary?: boolean;
  /** Writes the tool's list file, if it takes one, and returns its argv. */
  prepare(input: BatchInput): Promise<string[]>;
  /** The digests the tool printed, by file name, if it prints them. */
  reportedSha256?(stdout: string): Map<string, string>;
}

/** aria2's input-file format, which dlm reads too: a URL line, then an indented `out=NAME`. */
export function aria2List(files: BatchInput["files"]): string {
  return files.map((f) => `${f.url}\n  out=${f.name}\n`).join("");
}

const J = String(BATCH_JOBS);

/** `dlm get -i LIST -j 8 -c 1` from source (as `bun run dlm` starts it) or compiled (`binary`). */
function dlmBatch(binary: boolean): BatchTool {
  return {
    id: binary ? "dlmbin-batch" : "dlm-batch",
    label: `dlm${binary ? " binary" : ""} get -i LIST -j ${J} -c 1`,
    bin: undefined,
    // dlm hashes every file as it writes it and prints the digest; the harness compares those too.
    selfVerifies: true,
    needsBinary: binary,
    prepare: async ({ files, listDir, bun, repo, dlmBinary }) => {
      const list = join(listDir, "dlm.list");
      await writeFile(list, aria2List(files));
      const dlm = binary ? [dlmBinary ?? join(repo, "dist/dlm")] : [bun, join(repo, "src/main.ts")];
      return [...dlm, "get", "-i", list, "-j", J, "-c", "1", "--quiet"];
    },
    // One `PATH  BYTES bytes  sha256 HEX` line per finished file (batch.ts); anything after the digest is ignored.
    reportedSha256: (stdout) => {
      const digests = new Map<string, string>();
      for (const m of stdout.matchAll(/^(.+?) {2}\d+ bytes {2}sha256 ([0-9a-f]{64})\b/gm)) {
        digests.set(basename(m[1] ?? ""), m[2] ?? "");
      }
      return digests;
    },
  };
}

/**
 * Every batch tool, in report order: dlm (from source, compiled), the Bun floor (bench/floor-batch.ts: fetch,
 * `for await` over the body, a Bun file writer; no hash, no fsync), then the anchors. Each opens one connection per file (dlm with `-c 1`, aria2c with `-x1
 * -s1`; wget2 and curl always do), so the rows differ in how they run a list, not in how they split a file;
 * rc files are off (`--no-conf`, `--no-config`, `-q` first for curl).
 */
export const BATCH_TOOLS: readonly BatchTool[] = [
  dlmBatch(false),
  dlmBatch(true),
  {
    id: "bun-batch",
    label: `bun floor-batch.ts ${J}`,
    bin: undefined,
    selfVerifies: false,
    prepare: async ({ files, listDir, bun, repo }) => {
      const list = join(listDir, "bun.list");
      await writeFile(list, files.map((f) => `${f.url}\n`).join(""));
      return [bun, join(repo, "bench/floor-batch.ts"), list, J];
    },
  },
  {
    id: "aria2c-batch",
    label: `aria2c -j ${J} -x1 -i LIST`,
    bin: "aria2c",
    selfVerifies: false,
    prepare: async ({ files, dir, listDir }) => {
      const list = join(listDir, "aria2c.list");
      await writeFile(list, aria2List(files));
      return [
        "aria2c",
        "--no-conf",
        "-q",
        `-j${J}`,
        "-x1",
        "-s1",
        "--file-allocation=none",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
        "-d",
        dir,
        "-i",
        list,
      ];
    },
  },
  {
    id: "wget2-batch",
    label: `wget2 --max-threads=${J} -i LIST`,
    bin: "wget2",
    selfVerifies: false,
    prepare: async ({ files, dir, listDir }) => {
      // A plain URL list: wget2 names each file after its URL's last segment, which is the expected name.
      const list = join(listDir, "wget2.list");
      await writeFile(list, files.map((f) => `${f.url}\n`).join(""));
      return ["wget2", "--no-config", "-q", `--max-threads=${J}`, "-P", dir, "-i", list];
    },
  },
  {
    id: "curl-batch",
    label: `curl -Z --parallel-max ${J}`,
    bin: "curl",
    selfVerifies: false,
    prepare: async ({ files, dir }) => [
      "curl",
      "-q",
      "-s",
      "-S",
      "-f",
      "-Z",
      "--parallel-max",
      J,
      "--output-dir",
      dir,
      "--remote-name-all",
      ...files.map((f) => f.url),
    ],
  },
];

/** Whether the tool can run here (its binary is on PATH). */
export function batchToolInstalled(tool: BatchTool): boolean {
  return tool.bin === undefined || Bun.which(tool.bin) !== null;
}
