import { describe, expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadIdOf } from "../../src/interfaces/cli/download-id.ts";
import { parseInputFile } from "../../src/interfaces/cli/input-file.ts";

describe("parseInputFile (aria2 format)", () => {
  test("URL lines start entries; indented out=, dir=, checksum=, header= lines set their options", () => {
    const text = [
      "# models",
      "http://o/a.bin\thttp://mirror/a.bin",
      "  out=first.bin",
      "  dir=models",
      "  checksum=sha-256=abcd",
      "  header=Authorization: Bearer x",
      "  max-connection-per-server=4",
      "",
      "https://o/b.bin",
    ].join("\n");
    const parsed = parseInputFile(text, "list.txt");
    expect(parsed.entries).toEqual([
      {
        url: "http://o/a.bin",
        out: "first.bin",
        dir: "models",
        checksum: "sha256:abcd",
        headers: [["Authorization", "Bearer x"]],
        line: 2,
      },
      { url: "https://o/b.bin", out: undefined, dir: undefined, checksum: undefined, headers: [], line: 9 },
    ]);
    expect(parsed.ignored).toEqual(["max-connection-per-server"]);
  });

  test("bad lines are one-line errors naming the file and line", () => {
    expect(() => parseInputFile("  out=x\n", "l")).toThrow("l:1: an option line before any URL");
    expect(() => parseInputFile("ftp://x/y\n", "l")).toThrow('l:1: expected an http(s) URL, got "ftp://x/y"');
    expect(() => parseInputFile("http://x/y\n  oops\n", "l")).toThrow('l:2: expected key=value, got "oops"');
  });
});

describe("downloadIdOf", () => {
  test("digits or d+digits are ids, unless a file or sidecar of that name exists", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dlm-id-"));
    await writeFile(join(dir, "2024"), "");
    await writeFile(join(dir, "d7.dlm"), "");
    expect(downloadIdOf("12", dir)).toBe(12);
    expect(downloadIdOf("d12", dir)).toBe(12);
    expect(downloadIdOf("2024", dir)).toBeUndefined();
    expect(downloadIdOf("d7", dir)).toBeUndefined();
    expect(downloadIdOf("file.iso", dir)).toBeUndefined();
    expect(downloadIdOf("0", dir)).toBeUndefined();
  });
});
