import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";

/** What a tool's command line is built from. */
export interface ToolInput {
  readonly url: string;
  /** Absolute output path; its directory exists and the file does not. */
  readonly out: string;
  /** Expected SHA-256, lower-case hex. */
  readonly sha256: string;
  /** The Bun binary running the harness (dlm runs on the same one). */
  readonly bun: string;
  /** Size of the served file, bytes (the Bun floor script is given it: no probe). */
  readonly size: number;
  /** dlm compiled by `bun run build` for this run; undefined when not built (binary rows are skipped). */
  readonly dlmBinary?: string | undefined;
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
  /** Runs the compiled dlm (ToolInput.dlmBinary): skipped with a note when there is none. */
  readonly needsBinary?: boolean;
  argv(input: ToolInput): string[];
  /** Configuration files the tool reads that no flag turns off; the report notes any that exist. */
  readonly configFiles?: readonly string[];
  /** The digest the tool itself printed, if it prints one. */
  reportedSha256?(stdout: string): string | undefined;
}

/** dlm via `bun src/main.ts` (the way `bun run dlm` starts it), or the compiled binary when `binary`. */
function dlm(connections: number, binary = false): Tool {
  const n = String(connections);
  return {
    id: binary ? `dlmbin${n}` : `dlm${n}`,
    label: binary ? `dlm binary -c ${n}` : `dlm -c ${n}`,
    bin: undefined,
    connections,
    // dlm always hashes what it writes and prints the digest; the harness compares that digest too.
    selfVerifies: true,
    needsBinary: binary,
    argv: ({ url, out, bun, dlmBinary }) => [
      ...(binary ? [dlmBinary ?? "dist/dlm"] : [bun, "src/main.ts"]),
      "get",
      url,
      "-o",
      out,
      "-c",
      n,
      "--quiet",
      "--force",
    ],
    reportedSha256: (stdout) => /sha256 ([0-9a-f]{64})/.exec(stdout)?.[1],
  };
}

/**
 * The Bun floor (bench/floor-ranged.ts): N ranged fetches of equal parts written at their offsets, told the
 * size, no probe, no hash, no fsync. What Bun's fetch and positional writes alone cost at N connections.
 */
function bunFloor(connections: number): Tool {
  const n = String(connections);
  return {
    id: `bun-ranged${n}`,
    label: `bun floor-ranged.ts ${n}`,
    bin: undefined,
    connections,
    selfVerifies: false,
    argv: ({ url, out, bun, size }) => [bun, "bench/floor-ranged.ts", url, out, String(size), n],
  };
}

// --no-conf / --no-config: a user's rc file must not change what is measured. The 8- and 16-connection rows
// of aria2c and axel differ only in the connection count, so the equal-connection rows compare like with like.
function aria2(connections: number, checksum: boolean): Tool {
  const n = String(connections);
  const base = connections === 16 ? "aria2c" : `aria2c${n}`;
  return {
    id: checksum ? `${base}-sha` : base,
    label: `aria2c -x${n} -s${n}${checksum ? " --checksum" : ""}`,
    bin: "aria2c",
    connections,
    selfVerifies: checksum,
    argv: ({ url, out, sha256 }) => [
      "aria2c",
      "--no-conf",
      "-q",
      `-x${n}`,
      `-s${n}`,
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

function axel(connections: number): Tool {
  const n = String(connections);
  return {
    id: connections === 16 ? "axel" : `axel${n}`,
    label: `axel -n ${n}`,
    bin: "axel",
    connections,
    selfVerifies: false,
    argv: ({ url, out }) => ["axel", "-n", n, "-q", "-o", out, url],
    // axel has no flag to skip these; the report notes any that exist.
    configFiles: [join(homedir(), ".axelrc"), "/etc/axelrc"],
  };
}

/**
 * Every tool the bench knows, in report order: dlm (from source, then compiled), the Bun floor, then the
 * anchors at the same connection counts (16, then 8), then the single-connection tools. Ids stay short for --tools: `aria2c`/`axel` are the 16-connection rows.
 */
export const TOOLS: readonly Tool[] = [
  dlm(16),
  dlm(16, true),
  bunFloor(16),
  aria2(16, false),
  axel(16),
  dlm(8),
  dlm(8, true),
  bunFloor(8),
  aria2(8, false),
  axel(8),
  aria2(16, true),
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
export function toolInstalled(tool: Pick<Tool, "bin">): boolean {
  return tool.bin === undefined || Bun.which(tool.bin) !== null;
}

/** Files a tool may leave next to its output (control files), removed before each run. */
export function leftovers(out: string): string[] {
  return [out, `${out}.st`, `${out}.aria2`, `${out}.dlm`];
}
