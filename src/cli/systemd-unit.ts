import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatMs } from '../core/errors.js';
import type { ComponentSpec, Stack } from '../stackfile/schema.js';
import { fsProblem } from '../util/fs-problem.js';
import { startOrder } from './check.js';
import { parseSystemdTime } from './systemd-time.js';

/**
 * `corral check --systemd-unit FILE`: whether a systemd service unit runs Corral the way it needs:
 * `Type=notify` (systemd waits for the stack to be ready), a stop timeout above Corral's own,
 * `KillMode=mixed` (SIGTERM to Corral alone, so that the stack stops in order; SIGKILL to whatever
 * is left once Corral has exited) and `NotifyAccess=all` (see systemd-notify.ts).
 */

/**
 * What Corral may still need after `shutdown.timeout` has run out: to SIGKILL whatever is left,
 * print the stop report and exit. A unit's stop timeout must leave it, and the stop extension
 * Corral asks systemd for includes it.
 */
export const EXIT_ALLOWANCE_MS = 5_000;

/** systemd's DefaultTimeoutStartSec and DefaultTimeoutStopSec, for a unit that sets neither. */
const DEFAULT_TIMEOUT_MS = 90_000;

/** The settings of a unit file's `[Service]` section that Corral cares about, as systemd reads them. */
export interface ServiceSettings {
  /** `Type=`; systemd's default is `simple`. */
  readonly type: string | undefined;
  /** From `TimeoutStartSec=` or `TimeoutSec=`, whichever came last, as written. */
  readonly startTimeout: string | undefined;
  /** From `TimeoutStopSec=` or `TimeoutSec=`, whichever came last, as written. */
  readonly stopTimeout: string | undefined;
  readonly killMode: string | undefined;
  readonly notifyAccess: string | undefined;
}

/**
 * The `[Service]` settings of unit file text, following systemd.syntax(7): `#` and `;` start
 * comment lines, a trailing backslash continues a line, a later assignment overrides an earlier
 * one, and an empty assignment resets the setting to its default.
 */
export function parseServiceSettings(text: string): ServiceSettings {
  const settings: { -readonly [K in keyof ServiceSettings]: ServiceSettings[K] } = {
    type: undefined,
    startTimeout: undefined,
    stopTimeout: undefined,
    killMode: undefined,
    notifyAccess: undefined,
  };
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line.startsWith(';')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = pending + line;
    pending = '';
    if (whole.startsWith('[') && whole.endsWith(']')) section = whole.slice(1, -1);
    if (section !== 'Service') continue;
    const eq = whole.indexOf('=');
    if (eq < 0) continue;
    const value = whole.slice(eq + 1).trim() || undefined;
    switch (whole.slice(0, eq).trim()) {
      case 'Type':
        settings.type = value;
        break;
      // TimeoutSec= sets the start and the stop timeout.
      case 'TimeoutSec':
        settings.startTimeout = value;
        settings.stopTimeout = value;
        break;
      case 'TimeoutStartSec':
        settings.startTimeout = value;
        break;
      case 'TimeoutStopSec':
        settings.stopTimeout = value;
        break;
      case 'KillMode':
        settings.killMode = value;
        break;
      case 'NotifyAccess':
        settings.notifyAccess = value;
        break;
    }
  }
  return settings;
}

/**
 * The `corral check` section for the unit in `file`: its settings and a warning for each that
 * does not fit the stack. Rejects when the file cannot be read.
 */
export async function checkSystemdUnit(stack: Stack, file: string): Promise<string> {
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new Error(`cannot read the systemd unit ${path}: ${fsProblem(error)}`, { cause: error });
  });
  const unit = parseServiceSettings(text);
  const warnings: string[] = [];
  const type = unit.type ?? 'simple';
  if (type !== 'notify') {
    warnings.push(
      `Type=${type}: systemd takes the service as started before the stack is ready; use Type=notify`,
    );
  }

  const start = timeoutMs(unit.startTimeout);
  const startText = describeTimeout(start, unit.startTimeout);
  const starting = worstStart(stack);
  const startBudget = `the readiness timeouts along the start order, ${formatMs(starting)}`;
  if (start === undefined) warnings.push(`TimeoutStartSec=${unit.startTimeout ?? ''} is not a time span`);
  else if (start <= starting) {
    warnings.push(
      `TimeoutStartSec ${startText} is not above ${startBudget}: systemd may stop a start that is still within its timeouts`,
    );
  }
  const needed = stack.shutdown.timeout + EXIT_ALLOWANCE_MS;
  const stop = timeoutMs(unit.stopTimeout);
  const stopText = describeTimeout(stop, unit.stopTimeout);
  const budget = `shutdown.timeout ${formatMs(stack.shutdown.timeout)} + ${formatMs(EXIT_ALLOWANCE_MS)} to kill what is left and exit`;
  if (stop === undefined) warnings.push(`TimeoutStopSec=${unit.stopTimeout ?? ''} is not a time span`);
  else if (stop <= needed) {
    warnings.push(
      `TimeoutStopSec ${stopText} is not above ${budget}: systemd may SIGKILL the stack in the middle of its shutdown; set it above ${formatMs(needed)}`,
    );
  }

  const killMode = unit.killMode ?? 'control-group';
  if (killMode !== 'mixed') {
    warnings.push(
      killMode === 'control-group'
        ? 'KillMode=control-group: systemd sends SIGTERM to every process at once, so the stack neither drains nor stops in order; use KillMode=mixed'
        : `KillMode=${killMode}: systemd does not SIGKILL what is left once Corral has exited; use KillMode=mixed`,
    );
  }
  const notifyAccess = unit.notifyAccess ?? (type === 'notify' ? 'main' : 'none');
  if (type === 'notify' && notifyAccess !== 'all') {
    warnings.push(
      `NotifyAccess=${notifyAccess}: systemd ignores the notifications systemd-notify sends for Corral unless Corral runs as root; use NotifyAccess=all`,
    );
  }

  return [
    `systemd unit ${path}:`,
    `  Type              ${type}`,
    `  TimeoutStartSec   ${startText}${warnings.some((w) => w.startsWith('TimeoutStartSec')) ? '' : `, above ${startBudget}`}`,
    `  TimeoutStopSec    ${stopText}${warnings.some((w) => w.startsWith('TimeoutStopSec')) ? '' : `, above ${budget}`}`,
    `  KillMode          ${killMode}`,
    `  NotifyAccess      ${notifyAccess}`,
    ...(warnings.length === 0 ? ['  no warnings'] : warnings.map((w) => `  warning: ${w}`)),
    '',
  ].join('\n');
}

/** The timeout a `Timeout…Sec=` value gives, or undefined when it is not a time span; systemd reads `0` as none. */
function timeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const ms = parseSystemdTime(value);
  return ms === 0 ? Infinity : ms;
}

function describeTimeout(ms: number | undefined, value: string | undefined): string {
  if (ms === undefined) return `${value ?? ''} (not a time span)`;
  if (ms === Infinity) return 'infinity';
  return `${formatMs(ms)}${value === undefined ? " (systemd's default)" : ''}`;
}

/**
 * The longest a start may take within the stack's own timeouts: each wave of the start order waits
 * for its slowest readiness timeout (a component without a probe is ready at once).
 */
function worstStart(stack: Stack): number {
  const specs = new Map(stack.components.map((c) => [c.name, c]));
  let total = 0;
  for (const wave of startOrder(stack)) {
    total += Math.max(0, ...wave.map((name) => readyTimeout(specs.get(name))));
  }
  return total;
}

function readyTimeout(spec: ComponentSpec | undefined): number {
  return spec && 'ready' in spec && spec.ready ? spec.ready.timeout : 0;
}
