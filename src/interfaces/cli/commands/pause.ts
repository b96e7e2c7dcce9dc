import { controlCommand } from "./control-command.ts";

/** `dlm pause FILE`: pause a download started with --listen (workers stop within a second, state saved). */
export const pauseCommand = controlCommand(
  "pause",
  "Pause a running download (started with --listen): workers stop, state is saved, the process waits",
);
