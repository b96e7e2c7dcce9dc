/**
 * The bearer token of a dashboard page. It comes in the URL fragment, which browsers never send in a
 * request line; the page drops it from the address bar and keeps it in this tab's sessionStorage, so a
 * reload still works and the token never lands in history or bookmarks.
 */
import type { Interceptor } from "@connectrpc/connect";

/** The sessionStorage key of the token. */
export const TOKEN_KEY = "dlm-token";

/** The token from `#token=…` (then removed from the address bar), else the one this tab kept, else "". */
export function takeToken(): string {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromUrl !== null) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    history.replaceState(null, "", location.pathname);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

/** Sends `token` as `Authorization: Bearer` on every call. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** Shows `text` in the page's `#notice` banner (`kind` picks its colour), or hides it. */
export function notice(text: string | undefined, kind: "error" | "info" | "ok" = "error"): void {
  const el = document.getElementById("notice") as HTMLElement;
  el.hidden = text === undefined;
  el.className = kind;
  el.textContent = text ?? "";
}
