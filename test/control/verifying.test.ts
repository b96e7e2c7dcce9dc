import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { applyCommand, type Command } from "../../src/control/transitions.ts";
import { EXIT } from "../../src/exit-codes.ts";
import type { DownloadState } from "../../src/progress/snapshot.ts";
import { pausedWithEverythingDone } from "../badweather/harness.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { jsonLines, makeTempDir, removeDir, runDlm, spawnDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { quietContext, requestFor, waitFor } from "./fixture.ts";

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
  test("POST /pause is 409; dlm pause and dlm cancel print one line and exit REFUSED; status says verifying", async () => {
    // Held in verifying for seconds by a real resume (see pausedWithEverythingDone), then it fails the check.
    const url = origin.serve("/held.bin", { size: 512 * 1024 * 1024, throttleBytesPerSec: 512 * 1024 });
    const output = join(dir, "held.bin");
    await pausedWithEverythingDone(url, output, dir);
    const resumed = spawnDlm(["resume", "held.bin", "--listen", "0", "--json"], {
      cwd: dir,
      env: { DLM_LOG: "warning,control=debug", DLM_LOG_FORMAT: "json" },
      timeoutMs: 60_000,
    });
    await resumed.printed("stderr", /"to":"verifying"/);
    const controlFile = join(`${output}.dlm`, "control.json");
    // Written when the plan was known, before the run began: there by now, or a moment later.
    await waitFor("control.json", () => existsSync(controlFile));
    const control = JSON.parse(await readFile(controlFile, "utf8")) as { http: string; token: string };

    const answer = await fetch(`${control.http}/pause`, {
      method: "POST",
      headers: { authorization: `Bearer ${control.token}` },
    });
    expect(answer.status).toBe(409);
    const refusal = "every byte is here and the file is being verified; it cannot be paused now";
    expect(await answer.json()).toEqual({ code: "failed_precondition", message: `cannot pause: ${refusal}` });

    const pause = await runDlm(["pause", "held.bin"], { cwd: dir });
    expect(pause.exitCode).toBe(EXIT.REFUSED);
    expect(pause.stderr).toBe(`dlm: ${output}: cannot pause: ${refusal}\n`);
    expect(pause.stdout).toBe("");
    const cancel = await runDlm(["cancel", "held.bin", "--json"], { cwd: dir });
    expect(cancel.exitCode).toBe(EXIT.REFUSED);
    expect(jsonLines(cancel.stdout)).toEqual([
      {
        type: "error",
        code: "failed_precondition",
        message: `${output}: cannot cancel: ${refusal.replace("paused", "cancelled")}`,
        exitCode: EXIT.REFUSED,
      },
    ]);
    const status = await runDlm(["status", "held.bin", "--json"], { cwd: dir });
    expect(jsonLines(status.stdout)[0]?.["state"]).toBe("verifying");
    // The Watch stream (gRPC, STATE_VERIFYING on the wire) says so too, and ends as the download does.
    const watcher = spawnDlm(["watch", "held.bin"], { cwd: dir, timeoutMs: 60_000 });
    await watcher.printed("stderr", /: verifying\n/);

    // Nothing was paused or cancelled: the verification ran to its end (a mismatch, by construction).
    const run = await resumed.done;
    expect(run.exitCode).toBe(EXIT.INTEGRITY);
    expect(run.stderr).toContain("sha3-256 mismatch");
    const watched = await watcher.done;
    expect(watched.stderr).toStartWith(`dlm: ${output}: verifying\n`);
    expect(watched.exitCode).toBe(EXIT.INTEGRITY);
  }, 60_000);
});
