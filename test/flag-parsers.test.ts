import { describe, expect, test } from "bun:test";
import { UsageError } from "../src/errors.ts";
import { EXIT } from "../src/exit-codes.ts";
import { requestFromFlags } from "../src/interfaces/cli/commands/get.ts";
import {
  byteOffset,
  byteSize,
  durationMs,
  header,
  httpUrl,
  integerIn,
  outputPath,
} from "../src/interfaces/cli/flag-parsers.ts";

/** The UsageError `parse(input)` throws, checked for the shape every flag error has. */
function usageError(parse: (input: string) => unknown, input: string, flag: string): UsageError {
  let caught: unknown;
  try {
    parse(input);
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof UsageError)) throw new Error(`expected a UsageError for ${JSON.stringify(input)}`);
  expect(caught.exitCode).toBe(EXIT.USAGE);
  expect(caught.flag).toBe(flag);
  expect(caught.input).toBe(input);
  expect(caught.message).toStartWith(`${flag}: `);
  expect(caught.message).toContain(JSON.stringify(input));
  expect(caught.message).not.toContain("\n");
  return caught;
}

describe("integerIn / byteOffset", () => {
  const connections = integerIn("--connections", 1, 64);
  test.each([
    ["1", 1],
    ["64", 64],
    ["08", 8],
    [" 8 ", 8],
  ])("%p -> %p", (input, value) => {
    expect(connections(input)).toBe(value);
  });
  test.each(["0", "65", "abc", "", "-1", "+5", "1.5", "1e1", "0x10", "99999999999999999999"])(
    "%p is refused naming the flag and value",
    (input) => {
      usageError(connections, input, "--connections");
    },
  );
  test("the range is in the message", () => {
    expect(usageError(connections, "65", "--connections").message).toContain("1..64");
  });
  test("byteOffset takes 0 and large offsets, refuses negatives", () => {
    const parse = byteOffset("--range-start");
    expect(parse("0")).toBe(0);
    expect(parse("1099511627776")).toBe(2 ** 40);
    usageError(parse, "-1", "--range-start");
    usageError(parse, "9007199254740992", "--range-start");
  });
});

describe("byteSize", () => {
  const parse = byteSize("--min-split", 1);
  test.each([
    ["1", 1],
    ["1048576", 1048576],
    ["512K", 512 * 1024],
    ["512k", 512 * 1024],
    ["4M", 4 * 1024 * 1024],
    ["4MiB", 4 * 1024 * 1024],
    ["4MB", 4 * 1024 * 1024],
    ["1G", 1024 ** 3],
  ])("%p -> %p", (input, value) => {
    expect(parse(input)).toBe(value);
  });
  test.each(["0", "", "1.5M", "-1K", "4T", "K", "abc"])("%p is refused", (input) => {
    usageError(parse, input, "--min-split");
  });
});

describe("durationMs", () => {
  const parse = durationMs("--stall-timeout");
  test.each([
    ["30", 30_000],
    ["2.5", 2500],
    ["30s", 30_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["2M", 120_000],
  ])("%p -> %p ms", (input, value) => {
    expect(parse(input)).toBe(value);
  });
  test.each(["0", "0s", "0ms", "-1", "", "1h", "abc", "s"])("%p is refused", (input) => {
    usageError(parse, input, "--stall-timeout");
  });
});

describe("httpUrl", () => {
  test("http and https URLs pass, normalised", () => {
    expect(httpUrl("http://127.0.0.1:8080/a b")).toBe("http://127.0.0.1:8080/a%20b");
    expect(httpUrl("HTTPS://Example.COM/x")).toBe("https://example.com/x");
  });
  test.each([
    "not a url",
    "",
    "/relative/path",
    "http//missing-colon",
    "ftp://host/file",
    "file:///etc/passwd",
    "javascript:alert(1)",
  ])("%p is refused", (input) => {
    usageError(httpUrl, input, "URL");
  });
});

describe("header", () => {
  test.each([
    ["X-Token: abc", ["X-Token", "abc"]],
    ["Authorization:Bearer  x y ", ["Authorization", "Bearer  x y"]],
    ["X-Empty:", ["X-Empty", ""]],
    ["Cookie: a=b; c=d", ["Cookie", "a=b; c=d"]],
  ])("%p -> %p", (input, pair) => {
    expect(header(input)).toEqual(pair as [string, string]);
  });
  test.each([
    "bad",
    ": value",
    "Bad Name: x",
    "X-A: b\r\nX-B: c",
    "X-A: b\nc",
    "X-A: \u0000",
    "X-A: b\u0007c",
    "X-A: b\u007fc",
    "X-Name: файл",
    "X-Name: caf\u00e9",
  ])("%p is refused", (input) => {
    usageError(header, input, "--header");
  });
  test.each(["Range: bytes=0-1", "if-range: x", "Accept-Encoding: gzip"])(
    "%p is refused: dlm manages it",
    (input) => {
      expect(usageError(header, input, "--header").message).toContain("managed by dlm");
    },
  );
});

describe("outputPath", () => {
  test("a relative or absolute path passes unchanged", () => {
    expect(outputPath("out.bin")).toBe("out.bin");
    expect(outputPath("/tmp/x/out.bin")).toBe("/tmp/x/out.bin");
  });
  test.each(["", "  ", "dir/", "a\u0000b"])("%p is refused", (input) => {
    usageError(outputPath, input, "--output");
  });
});

describe("requestFromFlags", () => {
  test("--range-end before --range-start is refused naming --range-end", () => {
    const parse = () => requestFromFlags("http://h/x", { rangeStart: 10, rangeEnd: 5 });
    expect(parse).toThrow(UsageError);
    expect(parse).toThrow('--range-end: expected an offset >= --range-start (10), got "5"');
  });
  test("defaults fill what flags leave out; --retries N means N+1 attempts", () => {
    const request = requestFromFlags("http://h/x", { rangeStart: 5, rangeEnd: 5, retries: 2 });
    expect(request).toMatchObject({
      url: "http://h/x",
      output: undefined,
      connections: 8,
      rangeStart: 5,
      rangeEnd: 5,
      force: false,
      storage: "in-place",
      minSplitBytes: 1024 * 1024,
    });
    expect(request.retry.maxAttempts).toBe(3);
  });
  test("--min-split given is marked explicit (it then holds alone, plan.ts FILE_FLOOR_SHARE); absent is not", () => {
    expect(requestFromFlags("http://h/x", { minSplit: 512 * 1024 })).toMatchObject({
      minSplitBytes: 512 * 1024,
      minSplitExplicit: true,
    });
    expect(requestFromFlags("http://h/x", {}).minSplitExplicit).toBe(false);
  });
});
