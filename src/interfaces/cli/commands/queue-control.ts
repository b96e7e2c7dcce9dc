import { buildCommand } from "@stricli/core";
import { clientFlags } from "./client-command.ts";
import { resumeFlags } from "./resume-flags.ts";

/** Flags of `dlm pause|resume|rm` with ids. */
export interface QueueFlags {
  readonly all?: boolean;
  readonly json?: boolean;
}

/** Flags of `dlm rm`. */
export interface RmFlags extends QueueFlags {
  readonly deleteFiles?: boolean;
}

const allFlag = {
  kind: "boolean",
  brief: "Every download of the running dlm serve (default off)",
  optional: true,
} as const;

const targets = {
  kind: "array",
  parameter: {
    brief: "Download id (12 or d12) of dlm serve, or one FILE of dlm get --listen",
    parse: String,
    placeholder: "ID|FILE",
  },
} as const;

/** `dlm pause ID...|--all` (dlm serve) or `dlm pause FILE` (a `dlm get --listen` download). */
export const pauseEitherCommand = buildCommand({
  loader: async () => (await import("./queue-control-run.ts")).runPause,
  parameters: { flags: { ...clientFlags, all: allFlag }, positional: targets },
  docs: {
    brief: "Pause downloads of dlm serve by ID (or --all), or a dlm get --listen download by FILE",
  },
});

/** `dlm resume ID...|--all` (dlm serve) or `dlm resume FILE` (live process, else from its state file). */
export const resumeEitherCommand = buildCommand({
  loader: async () => (await import("./queue-control-run.ts")).runResume,
  parameters: {
    flags: { ...resumeFlags(), all: allFlag },
    aliases: { c: "connections" },
    positional: targets,
  },
  docs: {
    brief:
      "Resume downloads of dlm serve by ID (or --all), or FILE: through its process, else from FILE.dlm/state.json",
  },
});

/** `dlm rm ID...|--all [--delete-files]`: forget downloads of dlm serve. */
export const rmCommand = buildCommand({
  loader: async () => (await import("./queue-control-run.ts")).runRm,
  parameters: {
    flags: {
      ...clientFlags,
      all: allFlag,
      deleteFiles: {
        kind: "boolean",
        brief: "Also delete the finished file or the unfinished FILE.dlm sidecar",
        optional: true,
      },
    },
    positional: {
      kind: "array",
      parameter: { brief: "Download id (12 or d12)", parse: String, placeholder: "ID" },
    },
  },
  docs: { brief: "Remove downloads from dlm serve by ID (or --all); files stay unless --delete-files" },
});
