import { describe, expect, test } from "bun:test";
import { basename } from "node:path";
import fc from "fast-check";
import { chooseOutputName, isPlainFileName, nameFromUrl } from "../src/engine/output-name.ts";
import { dispositionFileName } from "../src/engine/probe.ts";

describe("isPlainFileName", () => {
  test.each(["report.pdf", "a", "résumé.pdf", "file with spaces.txt", "x".repeat(255), "日本語.txt"])(
    "%p is plain",
    (name) => {
      expect(isPlainFileName(name)).toBe(true);
    },
  );

  test.each([
    ["../../etc/passwd", "traversal"],
    ["..", "parent"],
    [".", "current dir"],
    ["/abs", "absolute"],
    ["dir/name", "a directory part"],
    ["a\\b", "a Windows separator"],
    [".hidden", "hidden"],
    ["bell\u0007.txt", "a control character"],
    ["new\nline", "a newline"],
    ["nul\u0000.txt", "NUL"],
    ["del\u007f", "DEL"],
    [" padded ", "surrounding spaces"],
    ["", "empty"],
    ["x".repeat(256), "over 255 bytes"],
    ["é".repeat(128), "over 255 bytes in UTF-8"],
  ])("%p is refused (%s)", (name) => {
    expect(isPlainFileName(name)).toBe(false);
  });
});

describe("nameFromUrl", () => {
  test.each([
    ["http://h/a/b/file.iso", "file.iso"],
    ["http://h/file.bin?x=1#frag", "file.bin"],
    ["http://h/my%20file.txt", "my file.txt"],
    ["http://h/na%C3%AFve.txt", "naïve.txt"],
    ["http://h/.bashrc", "bashrc"],
    ["http://h/bell%07.txt", "bell_.txt"],
    ["http://h/bad%E0%A4%A", "bad%E0%A4%A"],
  ])("%p -> %p", (url, name) => {
    expect(nameFromUrl(url)).toBe(name);
  });

  test.each(["http://h/", "http://h/dir/", "http://h/...", "not a url"])("%p has no usable name", (url) => {
    expect(nameFromUrl(url)).toBeUndefined();
  });

  test("encoded traversal stays one plain name", () => {
    const name = nameFromUrl("http://h/..%2F..%2Fetc%2Fpasswd") ?? "";
    expect(isPlainFileName(name)).toBe(true);
    expect(name).not.toContain("/");
  });

  test("any URL path gives a plain name or none", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (segment) => {
        const name = nameFromUrl(`http://h/d/${encodeURIComponent(segment)}`);
        if (name !== undefined) {
          expect(basename(name)).toBe(name);
          expect(name.startsWith(".")).toBe(false);
          expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(255);
          expect(/[/\\\p{Cc}]/u.test(name)).toBe(false);
        }
      }),
    );
  });
});

describe("chooseOutputName", () => {
  const url = "http://h/files/fromurl.bin";
  test("a plain Content-Disposition name wins", () => {
    expect(chooseOutputName(url, url, "report.pdf")).toBe("report.pdf");
  });

  test.each(["../evil", "../../etc/passwd", "/abs", ".hidden", "dir/x", "a\u0001b", ""])(
    "an unsafe name %p falls back to the URL's",
    (name) => {
      expect(chooseOutputName(url, url, name)).toBe("fromurl.bin");
    },
  );

  test("the requested URL's name, then the final URL's, then `download`", () => {
    expect(chooseOutputName("http://h/asked.bin", "http://h/final.bin", undefined)).toBe("asked.bin");
    expect(chooseOutputName("http://h/", "http://h/final.bin", undefined)).toBe("final.bin");
    expect(chooseOutputName("http://h/", "http://h/", undefined)).toBe("download");
  });
});

describe("dispositionFileName", () => {
  test.each([
    ['attachment; filename="a.txt"', "a.txt"],
    ["attachment; filename=a.txt", "a.txt"],
    ["attachment; FILENAME=a.txt; size=3", "a.txt"],
    ['attachment; filename="semi;colon.txt"', "semi;colon.txt"],
    ['attachment; filename="quo\\"te.txt"', 'quo"te.txt'],
    ["attachment; filename*=UTF-8''na%C3%AFve%20file.txt", "naïve file.txt"],
    ["attachment; filename*=UTF-8'en'x.txt", "x.txt"],
    // RFC 6266 §4.3: filename* is preferred when both are present.
    ["attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt", "€.txt"],
    // Returned raw; naming decides whether it is safe.
    ["attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"],
    ['attachment; filename="../evil"', "../evil"],
  ])("%p -> %p", (header, name) => {
    expect(dispositionFileName(header)).toBe(name);
  });

  test.each([null, "attachment", "inline; size=3", "attachment; filename*=UTF-8''bad%ZZ"])(
    "%p has no name",
    (header) => {
      expect(dispositionFileName(header)).toBeUndefined();
    },
  );

  test("a traversal through filename* never becomes the output name", () => {
    const raw = dispositionFileName("attachment; filename*=UTF-8''..%2Fevil");
    expect(chooseOutputName("http://h/safe.bin", "http://h/safe.bin", raw)).toBe("safe.bin");
  });
});
