/** A URL's user and password: decoded for sending, hidden for showing. */

/** Percent-decoded (a URL's user or password), or as it is when it is not valid percent-encoding (a literal `%`). */
export function decodeOrKeep(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A URL's text with its user and password (if it has any) replaced by `***`: for messages, even when it does not parse. */
export function withoutCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}
