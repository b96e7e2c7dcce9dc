import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { InterruptedError } from "../../src/errors.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { published, quietContext, reached, requestFor } from "./fixture.ts";

// Found by the dashboard: its Pause and Resume buttons can be clicked in quick succession, and its Pause button
// is live while the download is probing. Both orders must leave a download that finishes. Every wait is on a
// published snapshot (state changes publish at once; the meter publishes every 250 ms), never on a clock.
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

/** How `run` settled, as a string to compare (never rejects). */
const outcomeOf = (run: Promise<{ sha256: string }>) =>
  run.then(
    (file) => `finished ${file.sha256}`,
    (error: unknown) => `failed: ${error}`,
  );

/**
 * A paused controller publishes once more when its run has wound down and it waits for resume or cancel
 * (without an error: a run that failed instead publishes its error).
 */
const parked = (controller: Controller) =>
  published(
    controller.hub,
    "the paused run to wait for resume",
    (s) => s.state === "paused" && s.error === undefined,
    {
      count: 2,
    },
  );

describe("pause and resume races", () => {
  test("resume right after pause, before the run has wound down, is not lost", async () => {
    const controller = controllerFor("quick.bin");
    const run = controller.run();
    await reached(controller.hub, "running", (s) => s.state === "running");
    expect(controller.command("pause", "test")).toMatchObject({ ok: true, next: "paused" });
    expect(controller.command("resume", "test")).toMatchObject({ ok: true, next: "running" });
    expect(await outcomeOf(run)).toBe(`finished ${sha256Of(SIZE, 9)}`);
  }, 30_000);

  test("a pause between the probe and the first byte pauses (it does not fail the download)", async () => {
    let prepared = 0;
    // onPrepared runs again when the resumed run re-plans from the state file: pause only the first time.
    const controller = controllerFor("early.bin", (c) => {
      if (prepared++ === 0) c.command("pause", "test");
    });
    const waiting = parked(controller);
    const run = outcomeOf(controller.run());
    // The run waits for resume instead of failing: it parks before it could settle.
    expect(await Promise.race([run, waiting.then(() => "parked")])).toBe("parked");
    expect(controller.state).toBe("paused");
    controller.command("resume", "test");
    expect(await run).toBe(`finished ${sha256Of(SIZE, 9)}`);
  }, 30_000);

  test("a signal while paused by a command ends the run as interrupted; it does not resume the download", async () => {
    const controller = controllerFor("signalled.bin");
    const run = controller.run();
    await reached(controller.hub, "running", (s) => s.state === "running");
    const waiting = parked(controller);
    controller.command("pause", "test");
    await waiting;
    const served = origin.stats.bytesServed;
    controller.interrupt("SIGINT");
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InterruptedError);
    expect(controller.state).toBe("paused");
    expect(origin.stats.bytesServed).toBe(served);
  }, 30_000);
});
