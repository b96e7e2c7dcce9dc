/**
 * aria2 GIDs for dlm downloads. Decision: the GID is derived, not stored: the download's id in 16 lower-case
 * hex digits (id 10 → "000000000000000a"). So GID ↔ id is one to one, survives every restart (the id is the
 * queue's primary key, never reused) and needs no table that could drift from the queue.
 */

/** Largest id a GID can carry exactly (ids are JavaScript numbers). */
const MAX_ID = Number.MAX_SAFE_INTEGER;

/** The GID of download `id`. */
export function gidOf(id: number): string {
  return id.toString(16).padStart(16, "0");
}

/** The download id a GID names; undefined unless it is 16 hex digits naming a positive safe integer. */
export function idOfGid(gid: unknown): number | undefined {
  if (typeof gid !== "string" || !/^[0-9a-fA-F]{16}$/.test(gid)) return undefined;
  const id = Number.parseInt(gid, 16);
  return id > 0 && id <= MAX_ID ? id : undefined;
}
