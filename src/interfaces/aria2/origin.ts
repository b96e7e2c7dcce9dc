/**
 * A browser origin's normal form, `scheme://host[:port]`, or undefined when `value` is none (`null`, a path,
 * garbage). Besides http(s) pages, browser extensions call from `chrome-extension://ID` or
 * `moz-extension://UUID`, whose WHATWG origin is opaque ("null"), so those are kept as scheme and host.
 */
export function normalOrigin(value: string): string | undefined {
  const url = URL.parse(value.trim());
  if (url === null) return undefined;
  if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  if (!/^[a-z][a-z0-9+.-]*-extension:$/.test(url.protocol) || url.host === "") return undefined;
  return `${url.protocol}//${url.host}`;
}
