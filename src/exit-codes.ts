/**
 * The one table of process exit codes. Every code is below 128 except INTERRUPTED, which mirrors the shell's
 * 128+SIGINT convention for "stopped by Ctrl+C, state saved". Tests assert these names, never literals.
 */
export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  NETWORK: 3,
  HTTP_STATUS: 4,
  STORAGE: 5,
  INTEGRITY: 6,
  REMOTE_CHANGED: 7,
  STATE_FILE: 8,
  RANGE_NOT_SUPPORTED: 9,
  OUTPUT_EXISTS: 10,
  CANCELLED: 11,
  /** A control command the download's state does not allow now (pause while verifying, resume once ended). */
  REFUSED: 12,
  /** `dlm add`, `ls`, `pause ID`... found no running `dlm serve` (start one with: dlm serve). */
  NO_SERVER: 13,
  INTERRUPTED: 130,
} as const;

/** One of the values of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
