import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { applyCommand, type Command } from "../../src/control/transitions.ts";
import { EXIT } from "../../src/exit-codes.ts";
import { startControlPlane } from "../../src/interfaces/control-plane.ts";
import { ProgressHub } from "../../src/progress/hub.ts";
import type { DownloadState, ProgressSnapshot } from "../../src/progress/snapshot.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { makeTempDir, removeDir, runDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { quietContext, requestFor } from "./fixture.ts";

// Verifying is a state every client sees, and the one in which pause and cancel are refused: the engine
// checks and places the file without listening, so an accepted pause would be a lie.
let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await makeTempDir("dlm-verifying-");
});

afterAll(async () => {
  await origin.close();
  await removeDir(dir);
});

describe("the command table", () => {
  const cases: [DownloadState, Command, string][] = [
    ["verifying", "pause", "refused"],
    ["verifying", "cancel", "refused"],
    ["verifying", "resume", "verifying"],
    ["running", "pause", "paused"],
    ["probing", "pause", "paused"],
    ["paused", "resume", "running"],
    ["running", "cancel", "cancelled"],
    ["finished", "pause", "refused"],
    ["cancelled", "resume", "refused"],
  ];
  test.each(cases)("%s + %s -> %s", (state, command, expected) => {
    const t = applyCommand(state, command);
    expect(t.ok ? t.next : "refused").toBe(expected);
  });

  test("the refusal while verifying says why", () => {
    expect(applyCommand("verifying", "pause")).toEqual({
      ok: false,
      reason: "every byte is here and the file is being verified; it cannot be paused now",
    });
  });
});

describe("a real download", () => {
  test("goes running -> verifying -> finished, and refuses pause and cancel the moment it verifies", async () => {
    const size = 4 * 1024 * 1024;
    const url = origin.serve("/v.bin", { size, seed: 3 });
    const controller = new Controller(
      quietContext(dir),
      requestFor(url, join(dir, "v.bin")),
      getLogger(["dlm", "test"]),
    );
    const states: DownloadState[] = [];
    const answers: unknown[] = [];
    // onPublish runs synchronously inside the state change: this is the first instant of verifying.
    controller.hub.onPublish((s) => {
      if (states.at(-1) !== s.state) states.push(s.state);
      if (s.state === "verifying" && answers.length === 0) {
        answers.push(controller.command("pause", "test"), controller.command("cancel", "test"));
      }
    });
    const file = await controller.run();
    expect(file.sha256).toBe(sha256Of(size, 3));
    expect(states).toEqual(["running", "verifying", "finished"]);
    expect(answers).toEqual([
      { ok: false, reason: expect.stringContaining("cannot be paused") },
      { ok: false, reason: expect.stringContaining("cannot be cancelled") },
    ]);
    expect(controller.state).toBe("finished");
  });
});

describe("clients of a download that is verifying", () => {
  // A target held in `verifying` (a real one stays there for milliseconds): the HTTP API and the CLI must
  // carry the Controller's refusal as it is.
  function verifyingTarget(output: string) {
    const snapshot: ProgressSnapshot = {
      download: output,
      url: "http://127.0.0.1:9/x",
      state: "verifying",
      bytesDownloaded: 10,
      totalBytes: 10,
      percent: 100,
      bytesPerSecond: 0,
      etaSeconds: undefined,
      activeConnections: 0,
      segments: [],
      elapsedMs: 5,
    };
    const state: DownloadState = "verifying";
    return {
      hub: new ProgressHub(),
      state,
      snapshot: () => snapshot,
      command: (command: Command) => applyCommand(state, command),
    };
  }

  test("POST /pause is 409 failed_precondition; dlm pause prints one line and exits REFUSED", async () => {
    const output = join(dir, "held.bin");
    const plane = await startControlPlane(verifyingTarget(output), {
      listen: { host: "127.0.0.1", port: 0 },
      log: getLogger(["dlm", "test"]),
    });
    try {
      const answer = await fetch(`${plane.http}/pause`, {
        method: "POST",
        headers: { authorization: `Bearer ${plane.token}` },
      });
      expect(answer.status).toBe(409);
      expect(await answer.json()).toEqual({
        code: "failed_precondition",
        message: "cannot pause: every byte is here and the file is being verified; it cannot be paused now",
      });
      await mkdir(`${output}.dlm`, { mode: 0o700 });
      await plane.writeControlFile(`${output}.dlm`);
      const cli = await runDlm(["pause", "held.bin"], { cwd: dir });
      expect(cli.exitCode).toBe(EXIT.REFUSED);
      expect(cli.stderr).toBe(
        `dlm: ${output}: cannot pause: every byte is here and the file is being verified; it cannot be paused now\n`,
      );
      expect(cli.stdout).toBe("");
    } finally {
      await plane.stop();
    }
  });
});
