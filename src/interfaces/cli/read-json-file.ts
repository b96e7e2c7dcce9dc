import { readFile } from "node:fs/promises";
import { StateFileError } from "../../errors.ts";

/**
 * The fields of a small JSON file a dlm process wrote for its clients (control.json, serve.json), for the
 * caller to check one by one: undefined when the file does not exist; a `StateFileError` naming the file
 * when it cannot be read or is not JSON.
 */
export async function readJsonFields<T>(
  path: string,
): Promise<Partial<Record<keyof T, unknown>> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw new StateFileError(`${path}: cannot read: ${(error as Error).message}`, {
      file: path,
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as Partial<Record<keyof T, unknown>>;
  } catch (error) {
    throw new StateFileError(`${path}: not JSON`, { file: path, cause: error });
  }
}
