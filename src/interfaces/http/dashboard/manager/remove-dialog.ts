/**
 * The question before a removal: a modal `<dialog>` (focus stays inside, Escape cancels), open while the
 * page's state holds a {@link RemoveQuestion}. Deleting files is its own button and never the default one,
 * which is Cancel.
 */
import { type ComponentChild, h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { RemoveQuestion } from "./page-state.ts";

/** What the user chose: remove and delete the files, remove and keep them, or (undefined) nothing. */
export type RemoveChoice = "delete" | "keep";

interface DialogProps {
  readonly question: RemoveQuestion | undefined;
  /** Called once per question when the dialog closes. */
  readonly onAnswer: (question: RemoveQuestion, choice: RemoveChoice | undefined) => void;
}

/** The dialog; shown modally while there is a question. */
export function RemoveDialog({ question, onAnswer }: DialogProps): ComponentChild {
  // Preact's element reference starts as null (its API, not dlm's).
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el === null || question === undefined) return;
    el.returnValue = "";
    const closed = () => {
      const choice = el.returnValue;
      onAnswer(question, choice === "delete" || choice === "keep" ? choice : undefined);
    };
    el.addEventListener("close", closed, { once: true });
    el.showModal();
    return () => el.removeEventListener("close", closed);
  }, [question]);
  const what =
    question === undefined
      ? ""
      : question.name === undefined
        ? `Remove ${question.ids.length} downloads`
        : `Remove ${question.name}`;
  return h(
    "dialog",
    { id: "remove-dialog", "aria-labelledby": "remove-title", ref: dialog },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "remove-title" }, "Remove downloads"),
      h(
        "p",
        { id: "remove-text" },
        `${what} from the queue? ` +
          "“Remove and delete files” also deletes finished files and unfinished data; “keep files” leaves them on disk.",
      ),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "submit", value: "delete", class: "danger", id: "remove-delete" },
          "Remove and delete files",
        ),
        h("button", { type: "submit", value: "keep", id: "remove-keep" }, "Remove, keep files"),
        h("button", { type: "submit", value: "cancel", id: "remove-cancel", autofocus: true }, "Cancel"),
      ),
    ),
  );
}
