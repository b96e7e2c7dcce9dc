/**
 * The question before a removal (page.html's `#remove-dialog`, a modal `<dialog>`: focus stays inside,
 * Escape cancels). Deleting files is its own button and never the default one, which is Cancel.
 */
import { $ } from "../segments-view.ts";

/** What the user chose: remove and delete the files, remove and keep them, or (undefined) nothing. */
export type RemoveChoice = "delete" | "keep";

/** Asks about `count` downloads (`name` when one); resolves once the dialog closes. */
export async function askRemove(count: number, name: string | undefined): Promise<RemoveChoice | undefined> {
  if (count === 0) return undefined;
  const dialog = $("remove-dialog") as HTMLDialogElement;
  $("remove-text").textContent =
    `${name === undefined ? `Remove ${count} downloads` : `Remove ${name}`} from the queue? ` +
    "“Remove and delete files” also deletes finished files and unfinished data; “keep files” leaves them on disk.";
  dialog.returnValue = "";
  const closed = new Promise<string>((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }),
  );
  dialog.showModal();
  const choice = await closed;
  return choice === "delete" || choice === "keep" ? choice : undefined;
}
