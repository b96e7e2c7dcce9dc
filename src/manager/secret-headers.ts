import { isCredentialHeader } from "../engine/credential-headers.ts";

/** Request headers as the manager keeps them: name and value, in the order given. */
export type HeaderList = readonly (readonly [string, string])[];

/**
 * The headers as clients see them: a credential header (see isCredentialHeader) keeps its name and shows
 * the value "" (set, hidden). Views and stored events use this; the row keeps the values to use them.
 */
export function hideSecrets(headers: HeaderList): HeaderList {
  return headers.map(([name, value]) => (isCredentialHeader(name) ? ([name, ""] as const) : [name, value]));
}

/** Names of the credential headers set, in order: the ones `hideSecrets` shows without their value. */
export function secretNames(headers: HeaderList): string[] {
  return headers.filter(([name]) => isCredentialHeader(name)).map(([name]) => name);
}

/**
 * The headers an Update leaves. `given` (the Update's headers, undefined when it names none) replaces the
 * list; in it a credential header with the value "" means "keep the one set" (a client sends back what it
 * was shown), kept only when `sameOrigin`. When the URL moves to another origin (`sameOrigin` false) and
 * the Update gives no headers, the credential headers are dropped: they were given for the old origin.
 */
export function headersAfterUpdate(
  stored: HeaderList,
  given: HeaderList | undefined,
  sameOrigin: boolean,
): HeaderList {
  if (given === undefined) {
    return sameOrigin ? stored : stored.filter(([name]) => !isCredentialHeader(name));
  }
  const kept = new Map<string, string[]>();
  for (const [name, value] of stored) {
    if (!isCredentialHeader(name)) continue;
    const key = name.toLowerCase();
    kept.set(key, [...(kept.get(key) ?? []), value]);
  }
  const out: (readonly [string, string])[] = [];
  for (const [name, value] of given) {
    if (value !== "" || !isCredentialHeader(name)) {
      out.push([name, value]);
      continue;
    }
    const previous = sameOrigin ? kept.get(name.toLowerCase())?.shift() : undefined;
    if (previous !== undefined) out.push([name, previous]);
  }
  return out;
}

/** True when `a` and `b` are URLs of one origin (scheme, host, port). */
export function sameOrigin(a: string, b: string): boolean {
  return URL.parse(a)?.origin === URL.parse(b)?.origin;
}
