/**
 * URLs in stack files may carry credentials (`http://user:secret@host/drain`). Every message,
 * event and error that names a URL goes through {@link redactUrl} first.
 */

/** `http://user:secret@host:1/p?q` → `http://***@host:1/p?q`; unparsable text is scrubbed the same way. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return parsed.href;
    parsed.username = '';
    parsed.password = '';
    // URL offers no way to set a literal `***` user without encoding, so splice it in.
    return parsed.href.replace('//', '//***@');
  } catch {
    return url.replace(/\/\/[^/?#]*@/, '//***@');
  }
}
