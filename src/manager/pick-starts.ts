import { realpath } from "node:fs/promises";
import { join } from "node:path";
import type { DownloadRecord } from "./download-record.ts";
import type { JobRunner } from "./job-runner.ts";
import { planQueue, wakeAtOf } from "./queue-plan.ts";
import type { Store } from "./store.ts";

/** What the next planning round looks at. */
export interface PickStartsInput {
  readonly store: Store;
  /** Absolute download directory. */
  readonly dir: string;
  /** Its real path when resolved once for the manager's life (ManagerOptions.realDir). */
  readonly realDir?: string | undefined;
  readonly jobs: JobRunner;
  /** Downloads that must not start now (their URL is being replaced). */
  readonly held: ReadonlySet<number>;
  readonly maxActive: number;
  readonly connectionBudget: number;
  readonly defaultConnections: number;
  /** Wall clock, ms. */
  readonly now: number;
}

/** Downloads to claim now with their connections, and when to plan again (a retry's time). */
export interface PickedStarts {
  readonly starts: readonly { readonly record: DownloadRecord; readonly connections: number }[];
  readonly wakeAt: number | undefined;
}

/**
 * The waiting downloads to start now (queue-plan.ts decides by slots and connections), leaving out any
 * that would write where a running download (of this node, or of another on a shared store) writes:
 * it waits for that one, then fails if the file is there.
 *
 * Only the head of the queue can start: the plan reads as many waiting rows as there are slots plus rows it
 * may have to pass over (being started, held), and the whole queue only when that head did not fill the free
 * slots (rows waiting for a busy output); retrying rows are read apart for their wake time. A batch plans once
 * per file: reading and sorting every waiting row each time made a list of N files cost N² row visits.
 */
export async function pickStarts(input: PickStartsInput): Promise<PickedStarts> {
  const { store, jobs } = input;
  // Real paths, as placeInside and the engine's outputs use.
  const root = input.realDir ?? (await realpath(input.dir));
  let passed = input.held.size;
  for (const _ of jobs.values()) passed++;
  const head = input.maxActive + passed + HEAD_SPARE;
  const busy = new Set([...jobs.values()].map((job) => outputKey(root, job.record)));
  if (store.shared) {
    // Outputs other nodes are writing are busy too (the download directory is shared).
    for (const record of await store.list({ states: ["running", "verifying"] })) {
      busy.add(outputKey(root, record));
    }
  }
  const first = await store.list({ states: ["queued", "retrying"], limit: head });
  if (first.length < head) return pickFrom(input, root, busy, first, first);
  const picked = pickFrom(input, root, new Set(busy), first, await store.list({ states: ["retrying"] }));
  const free = input.maxActive - [...jobs.values()].filter((job) => !job.verifying).length;
  if (picked.starts.length >= free) return picked;
  const waiting = await store.list({ states: ["queued", "retrying"] });
  return pickFrom(input, root, busy, waiting, waiting);
}

/** Rows read beyond the slots and the rows passed over, so a few busy outputs do not force a full read. */
const HEAD_SPARE = 8;

/**
 * pickStarts' decision from `waiting` (the head of the queue in queue order, or all of it); `busy`: the
 * outputs being written (the starts are added); `retrying`: every retrying row, for the time the next one
 * becomes due.
 */
function pickFrom(
  input: PickStartsInput,
  root: string,
  busy: Set<string>,
  waiting: readonly DownloadRecord[],
  retrying: readonly DownloadRecord[],
): PickedStarts {
  const { jobs } = input;
  const plan = planQueue({
    waiting: waiting.filter(
      (record) => !jobs.has(record.id) && !input.held.has(record.id) && !busy.has(outputKey(root, record)),
    ),
    // A job verifying its file uses no connection: its slot goes to the next download at once, so a batch
    // of small files keeps its connections busy while each file's hash and fsync finish.
    running: [...jobs.values()].filter((job) => !job.verifying).map((job) => job.connections),
    maxActive: input.maxActive,
    connectionBudget: input.connectionBudget,
    defaultConnections: input.defaultConnections,
    now: input.now,
  });
  const starts: { record: DownloadRecord; connections: number }[] = [];
  for (const { id, connections } of plan.start) {
    const record = waiting.find((r) => r.id === id);
    // Two waiting downloads with one output: the first starts, the other waits for it.
    if (record === undefined || busy.has(outputKey(root, record))) continue;
    busy.add(outputKey(root, record));
    starts.push({ record, connections });
  }
  return { starts, wakeAt: waiting === retrying ? plan.wakeAt : wakeAtOf(retrying, input.now) };
}

/**
 * Where a download will write, as far as is known before it runs: its path once chosen, its directory and
 * name when given, else its directory and URL (the server's name for one URL is the same each time).
 */
function outputKey(root: string, record: DownloadRecord): string {
  // Every plan keys every waiting row (a batch plans once per file: O(files²) joins); a stored row is never
  // changed in place (an update stores a new object), so its key is kept with it.
  const known = KEYS.get(record);
  if (known !== undefined && known.root === root) return known.key;
  const key =
    record.path !== undefined
      ? `path\0${record.path}`
      : record.output !== undefined
        ? `path\0${join(root, record.directory, record.output)}`
        : `url\0${join(root, record.directory)}\0${record.url}`;
  KEYS.set(record, { root, key });
  return key;
}

/** outputKey's answers, per row object (see there). */
const KEYS = new WeakMap<DownloadRecord, { readonly root: string; readonly key: string }>();
