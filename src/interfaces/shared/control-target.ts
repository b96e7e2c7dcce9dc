import type { Controller } from "../../control/controller.ts";

/**
 * What the control plane needs of a download: its hub (for watchers), a fresh snapshot (for GET /status and
 * the first message of a stream) and the command entry point. A `Controller` is one; tests may pass another.
 */
export type ControlTarget = Pick<Controller, "hub" | "snapshot" | "command" | "state">;
