import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { DownloadRequest } from "../src/engine/download-request.ts";
import { duplicateLinks } from "../src/engine/link-header.ts";
import { prepareDownload } from "../src/engine/prepare.ts";
import { DEFAULT_RETRY_OPTIONS } from "../src/engine/retry-policy.ts";
import { readStateFile, writeStateFile } from "../src/engine/state-file.ts";
import { EXIT } from "../src/exit-codes.ts";
import { quietContext, requestFor } from "./control/fixture.ts";
import { bytesOf, sha256Hex } from "./helpers/bytes.ts";
import { runDlm, tempDirs } from "./helpers/cli.ts";
import { serveBytes } from "./helpers/raw-origin.ts";
import { rawOrigins, serveBody } from "./helpers/raw-origins.ts";

// Sources of one file (issue 21 item 1): --mirror, Link: rel=duplicate, state.json. Every server is a real
// one on loopback; what each received is asserted.
const BODY = bytesOf(0, 400_000 - 1);
const OTHER = bytesOf(0, 400_001 - 1);
const dirs = tempDirs("dlm-mirrors-");
const origin = rawOrigins();

afterAll(async () => {
  await dirs.removeAll();
});

/** requestFor's request, with one attempt and a 10 s stall timeout unless `more` says otherwise. */
function requestOf(url: string, output: string, more: Partial<DownloadRequest> = {}): DownloadRequest {
  return {
    ...requestFor(url, output),
    stallTimeoutMs: 10_000,
    retry: { ...DEFAULT_RETRY_OPTIONS, maxAttempts: 1 },
    ...more,
  };
}

describe("dlm get URL --mirror URL2", () => {
  test("a mirror of another size is dropped with one log line; credentials stay with the main origin", async () => {
    const main = await origin(serveBody(BODY));
    const good = await origin(serveBody(BODY));
    const bigger = await origin(serveBody(OTHER));
    const out = await dirs.fresh();
    const run = await runDlm(
      [
        "get",
        main.url("/f.bin"),
        "--mirror",
        good.url("/f.bin"),
        "--mirror",
        bigger.url("/f.bin"),
        "-o",
        "f.bin",
        "-c",
        "4",
        "-H",
        "Authorization: Bearer s3cret",
        "--quiet",
      ],
      { cwd: out },
    );
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
    const lines = run.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(bigger.url("/f.bin"));
    expect(lines[0]).toContain("400001");
    // Each mirror was asked (at least its probe); none ever saw the credentials given for the main origin.
    for (const mirror of [good, bigger]) {
      expect(mirror.requests.length).toBeGreaterThan(0);
      for (const r of mirror.requests) expect(r.headers.has("authorization")).toBe(false);
    }
    for (const r of main.requests) expect(r.headers.get("authorization")).toBe("Bearer s3cret");
  });

  test("Link: rel=duplicate mirrors are probed, unless --no-mirrors", async () => {
    const bigger = await origin(serveBody(OTHER));
    const main = await origin(serveBody(BODY, `Link: <${bigger.url("/f.bin")}>; rel=duplicate\r\n`));
    const withLinks = await runDlm(["get", main.url("/f.bin"), "-o", "f.bin", "--quiet"], {
      cwd: await dirs.fresh(),
    });
    expect(withLinks.exitCode).toBe(EXIT.OK);
    expect(withLinks.stderr).toContain(bigger.url("/f.bin"));
    expect(bigger.requests.length).toBe(1);
    const out = await dirs.fresh();
    const without = await runDlm(["get", main.url("/f.bin"), "-o", "f.bin", "--no-mirrors", "--quiet"], {
      cwd: out,
    });
    expect(without.exitCode).toBe(EXIT.OK);
    expect(without.stderr).toBe("");
    expect(bigger.requests.length).toBe(1);
    expect(sha256Hex(readFileSync(join(out, "f.bin")))).toBe(sha256Hex(BODY));
  });

  test("--mirror takes only http(s) URLs, before any I/O", async () => {
    const out = await dirs.fresh();
    const run = await runDlm(["get", "http://127.0.0.1:9/f", "--mirror", "file:///etc/passwd"], { cwd: out });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(run.stderr).toContain("--mirror");
    expect(run.stderr).toContain("file:///etc/passwd");
  });
});

describe("sources in prepare and state.json", () => {
  test("Link: rel=duplicate adds a mirror (not with noLinkMirrors); state.json keeps it and a resume uses it", async () => {
    const mirror = await origin(serveBody(BODY, 'ETag: "m1"\r\n'));
    const main = await origin(
      serveBody(BODY, `ETag: "main"\r\nLink: <${mirror.url("/f.bin")}>; rel=duplicate; pri=2\r\n`),
    );
    const cwd = await dirs.fresh();
    const ctx = quietContext(cwd);
    const log = getLogger(["dlm", "engine"]);
    const signal = new AbortController().signal;

    const plain = await prepareDownload(
      ctx,
      requestOf(main.url("/f.bin"), "a.bin", { noLinkMirrors: true }),
      signal,
      log,
    );
    expect(plain.sources.map((s) => s.given)).toEqual([main.url("/f.bin")]);
    expect(plain.state.mirrors).toBeUndefined();

    const prepared = await prepareDownload(ctx, requestOf(main.url("/f.bin"), "b.bin"), signal, log);
    expect(prepared.sources).toEqual([
      { id: 0, given: main.url("/f.bin"), url: main.url("/f.bin"), etag: '"main"', lastModified: undefined },
      {
        id: 1,
        given: mirror.url("/f.bin"),
        url: mirror.url("/f.bin"),
        etag: '"m1"',
        lastModified: undefined,
        priority: 2,
      },
    ]);
    await writeStateFile(prepared.sidecar, prepared.state);
    const saved = await readStateFile(prepared.sidecar);
    expect(saved.mirrors).toEqual([{ given: mirror.url("/f.bin"), etag: '"m1"', priority: 2 }]);

    // The resume asks no mirror and ignores Link headers: the saved mirror comes from state.json.
    const resumed = await prepareDownload(
      ctx,
      requestOf(main.url("/f.bin"), "b.bin", { noLinkMirrors: true }),
      signal,
      log,
    );
    expect(resumed.resumed).toBe(true);
    expect(resumed.sources.map((s) => s.given)).toEqual([main.url("/f.bin"), mirror.url("/f.bin")]);
  });

  test("a saved mirror whose ETag changed is dropped on resume", async () => {
    let etag = '"m1"';
    const mirror = await origin((request, socket) => serveBytes(request, socket, BODY, `ETag: ${etag}\r\n`));
    const main = await origin(serveBody(BODY, 'ETag: "main"\r\n'));
    const cwd = await dirs.fresh();
    const ctx = quietContext(cwd);
    const log = getLogger(["dlm", "engine"]);
    const signal = new AbortController().signal;
    const request = requestOf(main.url("/f.bin"), "c.bin", { mirrors: [mirror.url("/f.bin")] });
    const prepared = await prepareDownload(ctx, request, signal, log);
    expect(prepared.sources).toHaveLength(2);
    await writeStateFile(prepared.sidecar, prepared.state);
    etag = '"m2"';
    const resumed = await prepareDownload(ctx, requestOf(main.url("/f.bin"), "c.bin"), signal, log);
    expect(resumed.sources.map((s) => s.given)).toEqual([main.url("/f.bin")]);
  });
});

describe("duplicateLinks (RFC 6249 / RFC 8288)", () => {
  const base = "http://main.example/dir/f.iso";
  const rows: [string, string | null, { url: string; priority: number | undefined }[]][] = [
    ["no header", null, []],
    [
      "two links on one line, a comma inside <>, pri",
      '<http://a.example/f,1.iso>; rel=duplicate; pri=2; geo=de, <http://b.example/f.iso>; rel="duplicate"',
      [
        { url: "http://a.example/f,1.iso", priority: 2 },
        { url: "http://b.example/f.iso", priority: undefined },
      ],
    ],
    [
      "a relative reference resolves",
      "<../m/f.iso>; rel=duplicate",
      [{ url: "http://main.example/m/f.iso", priority: undefined }],
    ],
    [
      "other relations are skipped",
      '<http://c/f.meta4>; rel=describedby; type="application/metalink4+xml"',
      [],
    ],
    [
      "rel is a list, case-insensitive",
      '<http://d/f>; rel="alternate DUPLICATE"',
      [{ url: "http://d/f", priority: undefined }],
    ],
    [
      "a pri out of range is ignored",
      "<http://e/f>; rel=duplicate; pri=0",
      [{ url: "http://e/f", priority: undefined }],
    ],
    [
      "garbage is skipped",
      "nonsense, <http://f/f>; rel=duplicate",
      [{ url: "http://f/f", priority: undefined }],
    ],
  ];
  for (const [what, header, expected] of rows) {
    test(what, () => expect(duplicateLinks(header, base)).toEqual(expected));
  }
});
