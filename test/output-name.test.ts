import { describe, expect, test } from "bun:test";
import { basename } from "node:path";
import fc from "fast-check";
import { dispositionFileName, utf8FromLatin1 } from "../src/engine/content-disposition-name.ts";
import {
  chooseOutputName,
  fitName,
  isPlainFileName,
  MAX_NAME_BYTES,
  nameFromUrl,
} from "../src/engine/output-name.ts";

const bytes = (text: string): number => new TextEncoder().encode(text).length;
/** Raw UTF-8 bytes of `text` as fetch hands them over in a header: one latin1 code point per byte. */
const asLatin1 = (text: string): string => Buffer.from(text, "utf8").toString("latin1");

describe("isPlainFileName", () => {
  test.each(["report.pdf", "a", "résumé.pdf", "file with spaces.txt", "x".repeat(251), "日本語.txt"])(
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
    ["x".repeat(252), "over 251 bytes: NAME.dlm would not fit in 255"],
    ["é".repeat(126), "over 251 bytes in UTF-8"],
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
          expect(bytes(`${name}.dlm`)).toBeLessThanOrEqual(255);
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

  test("a name too long for the file system is shortened, keeping its extension", () => {
    const long = `${"report-".repeat(60)}final.tar.gz`;
    const chosen = chooseOutputName(url, url, long);
    expect(chosen).toEndWith(".gz");
    expect(chosen).toStartWith("report-report-");
    expect(bytes(`${chosen}.dlm`)).toBeLessThanOrEqual(255);
    const fromUrl = nameFromUrl(`http://h/${"ж".repeat(200)}.iso`) ?? "";
    expect(fromUrl).toEndWith(".iso");
    expect(bytes(fromUrl)).toBeLessThanOrEqual(MAX_NAME_BYTES);
  });

  test("the requested URL's name, then the final URL's, then `download`", () => {
    expect(chooseOutputName("http://h/asked.bin", "http://h/final.bin", undefined)).toBe("asked.bin");
    expect(chooseOutputName("http://h/", "http://h/final.bin", undefined)).toBe("final.bin");
    expect(chooseOutputName("http://h/", "http://h/", undefined)).toBe("download");
  });
});

describe("fitName", () => {
  test.each([
    ["short.txt", 20, "short.txt"],
    ["abcdefghij.txt", 10, "abcdef.txt"],
    ["abcdefghij", 5, "abcde"],
    // The tail after the last dot is no extension when it is long or holds a space: plain cut.
    ["abc.defghijklmnopqrstuvwxyz", 8, "abc.defg"],
    ["abcdef.not an ext", 6, "abcdef"],
    // Cut between code points, never inside one (ж is 2 bytes, 😀 is 4).
    ["жжжж.bin", 9, "жж.bin"],
    ["😀😀.bin", 9, "😀.bin"],
    ["ab  cd.txt", 8, "ab.txt"],
  ])("%p in %p bytes -> %p", (name, max, fitted) => {
    expect(fitName(name, max)).toBe(fitted);
  });

  test("any name fits, keeps a short extension and stays plain", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 400 }),
        fc.constantFrom(".iso", ".tar.gz", ""),
        (stem, ext) => {
          const name = `x${stem.replace(/[/\\.\p{Cc}\p{Cf}\s]/gu, "_")}${ext}`;
          const fitted = fitName(name);
          expect(bytes(fitted)).toBeLessThanOrEqual(MAX_NAME_BYTES);
          expect(fitted.endsWith(ext.slice(ext.lastIndexOf(".")))).toBe(true);
          if (bytes(name) <= MAX_NAME_BYTES) expect(fitted).toBe(name);
        },
      ),
    );
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
    // Raw UTF-8 as fetch hands it over (one latin1 code point per byte) is read as UTF-8.
    [asLatin1('attachment; filename="файл.zip"'), "файл.zip"],
    [asLatin1("attachment; filename=naïve.txt"), "naïve.txt"],
    // Real ISO-8859-1 text that is not valid UTF-8 stays as it is.
    ['attachment; filename="caf\u00e9.txt"', "café.txt"],
    ["attachment; filename*=ISO-8859-1''%E9t%E9.txt", "été.txt"],
    // A filename* that does not decode falls back to filename.
    ["attachment; filename=\"fallback.txt\"; filename*=UTF-8''bad%ZZ", "fallback.txt"],
  ])("%p -> %p", (header, name) => {
    expect(dispositionFileName(header)).toBe(name);
  });

  test.each([
    null,
    "attachment",
    "inline; size=3",
    "attachment; filename*=UTF-8''bad%ZZ",
    'attachment; filename="unterminated',
  ])("%p has no name", (header) => {
    expect(dispositionFileName(header)).toBeUndefined();
  });

  test("a traversal through filename* never becomes the output name", () => {
    const raw = dispositionFileName("attachment; filename*=UTF-8''..%2Fevil");
    expect(chooseOutputName("http://h/safe.bin", "http://h/safe.bin", raw)).toBe("safe.bin");
  });
});

describe("utf8FromLatin1", () => {
  test.each([
    ["plain.txt", "plain.txt"],
    [asLatin1("日本語"), "日本語"],
    ["\u00e9t\u00e9", "été"],
    // Already-decoded text (code points above 0xFF) is left alone.
    ["файл", "файл"],
  ])("%p -> %p", (input, output) => {
    expect(utf8FromLatin1(input)).toBe(output);
  });
});
