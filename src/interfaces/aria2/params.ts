import { Aria2Fault } from "./aria2-fault.ts";

/** A method's parameters after the secret was taken off. */
export type Params = readonly unknown[];

/** Parameter `index` as an integer (aria2 takes numbers; some clients send digit strings). */
export function intParam(params: Params, index: number, name: string, fallback?: number): number {
  const value = params[index];
  if (value === undefined && fallback !== undefined) return fallback;
  const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new Aria2Fault(`${name}: expected an integer, got ${JSON.stringify(value) ?? "nothing"}`);
  }
  return n;
}

/** Parameter `index` as a string. */
export function stringParam(params: Params, index: number, name: string): string {
  const value = params[index];
  if (typeof value !== "string")
    throw new Aria2Fault(`${name}: expected a string, got ${JSON.stringify(value) ?? "nothing"}`);
  return value;
}

/** Parameter `index` as a list of strings (absent = empty). */
export function stringsParam(params: Params, index: number, name: string): string[] {
  const value = params[index];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new Aria2Fault(`${name}: expected an array of strings`);
  }
  return value;
}
