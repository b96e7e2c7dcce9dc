import { controlCommand } from "./client-command.ts";

/** `dlm cancel FILE`: cancel a download started with --listen; its partial data is removed. */
export const cancelCommand = controlCommand(
  "cancel",
  "Cancel a running download (started with --listen) and remove its partial data",
);
