// The pure parts of the aria2 front: GIDs, option mapping, statuses and error codes, notifications, positions.
import { describe, expect, test } from "bun:test";
import { gidOf, idOfGid } from "../../src/interfaces/aria2/gid.ts";
import { notificationOf } from "../../src/interfaces/aria2/notifications.ts";
import {
  directoryOf,
  mapOptions,
  optionsOf,
  parseSize,
  readOptions,
} from "../../src/interfaces/aria2/options.ts";
import { normalOrigin } from "../../src/interfaces/aria2/origin.ts";
import { targetIndex } from "../../src/interfaces/aria2/queue-move.ts";
import {
  type Aria2Status,
  bitfieldOf,
  errorCodeOf,
  PIECE_LENGTH,
  statusOf,
} from "../../src/interfaces/aria2/status.ts";
import type { QueueState, StoredEvent } from "../../src/manager/download-record.ts";
import { newDownload } from "../helpers/new-download.ts";

const BASE = "/srv/downloads";

describe("GIDs", () => {
  test("are the id in 16 hex digits, one to one", () => {
    expect(gidOf(1)).toBe("0000000000000001");
    expect(gidOf(255)).toBe("00000000000000ff");
    for (const id of [1, 42, 2 ** 40, Number.MAX_SAFE_INTEGER]) expect(idOfGid(gidOf(id))).toBe(id);
  });

  test("anything else names no download", () => {
    for (const bad of ["", "1", "000000000000000g", "0000000000000000", "ffffffffffffffff", 1, undefined]) {
      expect(idOfGid(bad)).toBeUndefined();
    }
  });
});

describe("options", () => {
  const map = (options: Record<string, unknown>, uris = 1) => mapOptions(readOptions(options), BASE, uris);

  test("each mapped option lands on its download field", () => {
    expect(
      map({
        dir: `${BASE}/isos`,
        out: "a.iso",
        split: "4",
        header: ["X-A: 1", "X-B:2"],
        checksum: "sha-256=ABCD",
        "max-download-limit": "2M",
        "user-agent": "ua/1",
        referer: "http://r/",
        pause: "true",
        "max-tries": "5",
      }),
    ).toEqual({
      directory: "isos",
      output: "a.iso",
      connections: 4,
      headers: [
        ["X-A", "1"],
        ["X-B", "2"],
        ["User-Agent", "ua/1"],
        ["Referer", "http://r/"],
      ],
      checksum: "sha256:abcd",
      speedLimit: 2 * 1024 * 1024,
      paused: true,
      ignored: ["max-tries"],
    });
  });

  test("connections are min(split, servers x max-connection-per-server), as aria2 opens them", () => {
    expect(map({ split: "8", "max-connection-per-server": "2" }, 3).connections).toBe(6);
    expect(map({ "max-connection-per-server": "3" }).connections).toBe(3);
    expect(map({}).connections).toBeUndefined();
  });

  test("bad values are aria2's option error naming the option", () => {
    for (const [options, name] of [
      [{ split: "0" }, "--split"],
      [{ split: "65" }, "--split"],
      [{ "max-download-limit": "fast" }, "--max-download-limit"],
      [{ header: ["no colon"] }, "--header"],
      [{ header: ["X: a\r\nInjected: b"] }, "--header"],
      [{ checksum: "sha256:abcd" }, "--checksum"],
      [{ pause: "yes" }, "--pause"],
      [{ split: 3 }, "--split"],
    ] as const) {
      expect(() => map(options)).toThrow(`option '${name}'`);
    }
  });

  test("dir stays inside the download directory", () => {
    expect(directoryOf(BASE, BASE)).toBe("");
    expect(directoryOf(BASE, "sub/x")).toBe("sub/x");
    expect(directoryOf(BASE, `${BASE}/sub/../x`)).toBe("x");
    for (const outside of ["/", "/srv", "..", `${BASE}/..`, `${BASE}-other`, "sub/../../x"]) {
      expect(() => directoryOf(BASE, outside)).toThrow("outside the download directory");
    }
  });

  test("sizes take K and M as aria2 does", () => {
    expect(parseSize("x", "0")).toBe(0);
    expect(parseSize("x", "512K")).toBe(512 * 1024);
    expect(parseSize("x", "3m")).toBe(3 * 1024 * 1024);
  });

  test("getOption shows them back in aria2's form", () => {
    expect(
      optionsOf(
        {
          directory: "isos",
          output: "a.iso",
          connections: 0,
          defaultConnections: 8,
          headers: [
            ["X-A", "1"],
            ["User-Agent", "ua"],
          ],
          checksum: "sha256:ab",
          speedLimit: 100,
        },
        BASE,
      ),
    ).toEqual({
      dir: `${BASE}/isos`,
      out: "a.iso",
      split: "8",
      "max-connection-per-server": "8",
      "max-download-limit": "100",
      header: "X-A: 1\n",
      "user-agent": "ua",
      checksum: "sha-256=ab",
    });
  });
});

describe("statuses and errors", () => {
  test("queue states map onto aria2's six statuses", () => {
    const table: [QueueState, Aria2Status][] = [
      ["queued", "waiting"],
      ["retrying", "waiting"],
      ["running", "active"],
      ["verifying", "active"],
      ["paused", "paused"],
      ["finished", "complete"],
      ["failed", "error"],
    ];
    for (const [state, status] of table) expect(statusOf(state)).toBe(status);
  });

  test("failures map onto aria2's exit codes", () => {
    expect(errorCodeOf("http_status", 404)).toBe("3");
    expect(errorCodeOf("http_status", 401)).toBe("24");
    expect(errorCodeOf("http_status", 500)).toBe("22");
    expect(errorCodeOf("network", undefined)).toBe("6");
    expect(errorCodeOf("integrity", undefined)).toBe("32");
    expect(errorCodeOf("output_exists", undefined)).toBe("13");
    expect(errorCodeOf("unexpected", undefined)).toBe("1");
  });

  test("the bitfield sets a piece once all its bytes are in, high bit first", () => {
    const total = 10 * PIECE_LENGTH - 5;
    expect(bitfieldOf(total, () => true)).toBe("ffc0");
    expect(bitfieldOf(total, (start) => start === 0 || start === 9 * PIECE_LENGTH)).toBe("8040");
    expect(bitfieldOf(total, () => false)).toBe("0000");
  });
});

describe("notifications", () => {
  const event = (kind: StoredEvent["kind"], state: QueueState): StoredEvent => ({
    seq: 1,
    downloadId: 1,
    kind,
    record: {
      ...newDownload("http://127.0.0.1/f"),
      id: 1,
      state,
      path: undefined,
      position: 1,
      failure: undefined,
      nextTryAt: undefined,
      attempts: 0,
      bytesDownloaded: 0,
      totalBytes: undefined,
      sha256: undefined,
      node: undefined,
      createdAt: 0,
      updatedAt: 0,
    },
  });

  test("follow the state a download enters, as aria2 sends them", () => {
    const table: [StoredEvent["kind"], QueueState | undefined, QueueState, string | undefined][] = [
      ["added", undefined, "queued", undefined],
      ["changed", "queued", "running", "aria2.onDownloadStart"],
      ["changed", "running", "running", undefined],
      ["changed", "running", "paused", "aria2.onDownloadPause"],
      ["changed", "running", "verifying", undefined],
      ["changed", "verifying", "finished", "aria2.onDownloadComplete"],
      ["changed", "running", "failed", "aria2.onDownloadError"],
      ["changed", "running", "retrying", undefined],
      ["removed", "running", "running", "aria2.onDownloadStop"],
      ["removed", "paused", "paused", undefined],
      ["removed", "finished", "finished", undefined],
    ];
    for (const [kind, before, state, method] of table) {
      expect({ kind, before, state, method: notificationOf(event(kind, state), before) }).toEqual({
        kind,
        before,
        state,
        method,
      });
    }
  });
});

describe("origins", () => {
  test("pages and browser extensions have one normal form; null, * and other schemes have none", () => {
    expect(normalOrigin("http://localhost:6880/")).toBe("http://localhost:6880");
    expect(normalOrigin("HTTPS://Example.COM:443")).toBe("https://example.com");
    expect(normalOrigin("chrome-extension://abcdefghijklmnop")).toBe("chrome-extension://abcdefghijklmnop");
    expect(normalOrigin("moz-extension://0a1b-2c3d")).toBe("moz-extension://0a1b-2c3d");
    for (const none of ["null", "*", "file:///tmp/x.html", "data:text/html,x", "chrome-extension://", ""]) {
      expect(normalOrigin(none)).toBeUndefined();
    }
  });
});

describe("changePosition", () => {
  test("POS_SET, POS_CUR and POS_END as aria2, clamped to the waiting queue", () => {
    expect(targetIndex(2, 5, 0, "POS_SET")).toBe(0);
    expect(targetIndex(2, 5, 9, "POS_SET")).toBe(4);
    expect(targetIndex(2, 5, -1, "POS_CUR")).toBe(1);
    expect(targetIndex(2, 5, 0, "POS_END")).toBe(4);
    expect(targetIndex(2, 5, -2, "POS_END")).toBe(2);
    expect(targetIndex(0, 5, -3, "POS_CUR")).toBe(0);
  });
});
