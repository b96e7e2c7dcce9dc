/**
 * The sources of a Progress message as `dlm watch` draws them (watch-view.ts's `sourceLine`): for
 * `dlm watch FILE` (ProgressService) and for the manager's `dlm watch` (WatchDownload of each running
 * download). Loaded only by those commands.
 */
import { type Source, SourceState } from "../../gen/dlm/v1/progress_pb.ts";
import type { SourceProgress } from "../../progress/snapshot.ts";

/** Proto source states back to dlm's own (an unknown one shows as active). */
const SOURCE_STATES: Readonly<Record<SourceState, SourceProgress["state"]>> = {
  [SourceState.UNSPECIFIED]: "active",
  [SourceState.ACTIVE]: "active",
  [SourceState.DEMOTED]: "demoted",
  [SourceState.DROPPED]: "dropped",
};

/** One source of a Progress message, with numbers for bigints. */
export function toSourceProgress(s: Source): SourceProgress {
  return {
    id: s.id,
    url: s.url,
    state: SOURCE_STATES[s.state],
    bytes: Number(s.bytes),
    bytesPerSecond: s.bytesPerSecond,
    connections: s.connections,
  };
}
