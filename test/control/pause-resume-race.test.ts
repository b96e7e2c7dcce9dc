import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { quietContext, requestFor, waitFor } from "./fixture.ts";

// Found by the dashboard: its Pause and Resume buttons can be clicked in quick succession, and its Pause button
// is live while the download is probing. Both orders must leave a download that finishes.
const SIZE = 8 * 1024 * 1024;
let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-pause-race-"));
});

afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

function controllerFor(name: string, onPrepared?: (c: Controller) => void): Controller {
  const url = origin.serve(`/${name}`, { size: SIZE, seed: 9, throttleBytesPerSec: 4 * 1024 * 1024 });
  const controller: Controller = new Controller(
    quietContext(dir),
    requestFor(url, join(dir, name)),
    getLogger(["dlm", "test"]),
    {
      onPrepared: () => onPrepared?.(controller),
    },
  );
  controller.keepAliveWhenPaused(true);
  return controller;
}

describe("pause and resume races", () => {
  test("resume right after pause, before the run has wound down, is not lost", async () => {
    const controller = controllerFor("quick.bin");
    const run = controller.run();
    await waitFor("running", () => controller.state === "running");
    expect(controller.command("pause", "test")).toMatchObject({ ok: true, next: "paused" });
    expect(controller.command("resume", "test")).toMatchObject({ ok: true, next: "running" });
    const file = await Promise.race([run, Bun.sleep(20_000).then(() => undefined)]);
    expect(file?.sha256).toBe(sha256Of(SIZE, 9));
  }, 30_000);

  test("a pause between the probe and the first byte pauses (it does not fail the download)", async () => {
    let prepared = 0;
    // onPrepared runs again when the resumed run re-plans from the state file: pause only the first time.
    const controller = controllerFor("early.bin", (c) => {
      if (prepared++ === 0) c.command("pause", "test");
    });
    const run = controller.run();
    await waitFor("paused", () => controller.state === "paused");
    // Still paused a moment later: the run waits for resume instead of failing.
    await Bun.sleep(200);
    expect(controller.state).toBe("paused");
    controller.command("resume", "test");
    const file = await run;
    expect(file.sha256).toBe(sha256Of(SIZE, 9));
  }, 30_000);
});
