/**
 * Making a child's line safe to show after a prefix on a terminal. A child may print escape
 * sequences meant for a terminal it owns: moving the cursor, clearing the screen, setting the
 * window title, switching character sets. Behind a prefix, in a stream shared with other
 * components and Corral's own status lines, they would garble everything, so prefixed output
 * removes them. Colours (SGR sequences) are kept when the destination shows colours, with a reset
 * at the end of the line so that no colour bleeds into the next prefix; otherwise they go too.
 */

/**
 * Any character that can start a sequence or move the cursor: C0 controls but tab, DEL and the
 * C1 controls (which some terminals obey as 8-bit escape sequences).
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;

/**
 * One escape sequence or control character, as ECMA-48 shapes them: CSI (`ESC [` or U+009B,
 * parameters, intermediates, a final byte), the string sequences OSC, DCS, SOS, PM and APC (up to
 * BEL or ST, or to the end of the line when unterminated), a two-character escape, a lone ESC, or
 * any other control character.
 */
const SEQUENCE = new RegExp(
  [
    '(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?',
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d-\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?',
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?',
    '[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f]',
  ].join('|'),
  'g',
);

/** A colour or text-attribute sequence (SGR): `ESC [ <numbers separated by ; or :> m`. */
// eslint-disable-next-line no-control-regex -- an escape sequence is what it matches
const SGR = /^\x1b\[[0-9;:]*m$/;

const RESET = '\x1b[0m';

/** {@link CONTROL} but newline: what a run of lines may hold only where it holds a CR. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_BUT_NEWLINE = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * {@link CONTROL} in a run of lines separated by newlines, where a CR counts only when it is not
 * its line's final character. Slower to search than a character class alone, so only searched
 * for in a run that holds a CR.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL_IN_RUN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n|$)/;

/** Whether `text` holds anything {@link neutralise} would change (other than a final CR). */
export function needsNeutralising(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * Whether a line of `text` (lines separated by newlines, the last one without) holds anything
 * {@link neutralise} would change, a line's final CR apart: one search over the whole run.
 */
export function runNeedsNeutralising(text: string): boolean {
  return CONTROL_BUT_NEWLINE.test(text) && CONTROL_IN_RUN.test(text);
}

/**
 * `line` (one line, without its newline) with every escape sequence and control character but tab
 * removed; with `colors`, SGR sequences are kept and the line ends with a reset.
 */
export function neutralise(line: string, colors: boolean): string {
  const clean = line.replace(SEQUENCE, (sequence) => (colors && SGR.test(sequence) ? sequence : ''));
  // Only colour sequences are left with an ESC in them: end the line with a reset if any is.
  return colors && clean.includes('\x1b') ? `${clean}${RESET}` : clean;
}
