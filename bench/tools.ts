import { basename, dirname } from "node:path";

/** What a tool's command line is built from. */
export interface ToolInput {
  readonly url: string;
  /** Absolute output path; its directory exists and the file does not. */
  readonly out: string;
  /** Expected SHA-256, lower-case hex. */
  readonly sha256: string;
  /** The Bun binary running the harness (dlm runs on the same one). */
  readonly bun: string;
}

/** One row of the report: a downloader with fixed options. */
export interface Tool {
  /** Short id for --tools. */
  readonly id: string;
  /** Row label: the command as a reader would type it. */
  readonly label: string;
  /** Executable looked up on PATH (undefined: the harness's own Bun). */
  readonly bin: string | undefined;
  /** Connections it keeps open at most; 1 marks a single-connection tool. */
  readonly connections: number;
  /** Whether its exit means "file verified" (it hashed the file itself), so no separate hash is added. */
  readonly selfVerifies: boolean;
  argv(input: ToolInput): string[];
  /** The digest the tool itself printed, if it prints one. */
  reportedSha256?(stdout: string): string | undefined;
}

function dlm(connections: number): Tool {
  return {
    id: `dlm${connections}`,
    label: `dlm -c ${connections}`,
    bin: undefined,
    connections,
    // dlm always hashes what it writes and prints the digest; the harness compares that digest too.
    selfVerifies: true,
    argv: ({ url, out, bun }) => [
      bun,
      "src/main.ts",
      "get",
      url,
      "-o",
      out,
      "-c",
      String(connections),
      "--quiet",
      "--force",
    ],
    reportedSha256: (stdout) => /sha256 ([0-9a-f]{64})/.exec(stdout)?.[1],
  };
}

// --no-conf / --no-config: a user's rc file must not change what is measured.
function aria2(checksum: boolean): Tool {
  return {
    id: checksum ? "aria2c-sha" : "aria2c",
    label: checksum ? "aria2c -x16 --checksum" : "aria2c -x16",
    bin: "aria2c",
    connections: 16,
    selfVerifies: checksum,
    argv: ({ url, out, sha256 }) => [
      "aria2c",
      "--no-conf",
      "-q",
      "-x16",
      "-s16",
      "-k1M",
      "--file-allocation=none",
      "--allow-overwrite=true",
      "--auto-file-renaming=false",
      ...(checksum ? [`--checksum=sha-256=${sha256}`] : []),
      "-d",
      dirname(out),
      "-o",
      basename(out),
      url,
    ],
  };
}

/** Every tool the bench knows, in report order. */
export const TOOLS: readonly Tool[] = [
  dlm(8),
  dlm(16),
  aria2(false),
  aria2(true),
  {
    id: "axel",
    label: "axel -n 16",
    bin: "axel",
    connections: 16,
    selfVerifies: false,
    argv: ({ url, out }) => ["axel", "-n", "16", "-q", "-o", out, url],
  },
  {
    id: "curl",
    label: "curl",
    bin: "curl",
    connections: 1,
    selfVerifies: false,
    argv: ({ url, out }) => ["curl", "-q", "-s", "-o", out, url],
  },
  {
    id: "wget2",
    label: "wget2",
    bin: "wget2",
    connections: 1,
    selfVerifies: false,
    argv: ({ url, out }) => ["wget2", "--no-config", "-q", "-O", out, url],
  },
];

/** Whether the tool can run here (its binary is on PATH). */
export function toolInstalled(tool: Tool): boolean {
  return tool.bin === undefined || Bun.which(tool.bin) !== null;
}

/** Files a tool may leave next to its output (control files), removed before each run. */
export function leftovers(out: string): string[] {
  return [out, `${out}.st`, `${out}.aria2`, `${out}.dlm`];
}
