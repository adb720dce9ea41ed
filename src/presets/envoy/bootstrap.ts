import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parse } from 'yaml';
import type { Warning } from '../../util/warning.js';
import { formatAdminAddress, type AdminAddress } from './admin.js';
import { writePrivateFile } from '../../util/private-file.js';

/** Extensions Envoy reads the bootstrap format from; the copy keeps the original's. */
const BOOTSTRAP_EXTENSIONS = new Set(['.yaml', '.yml', '.json', '.pb', '.pb_text']);

/**
 * Copies the bootstrap into `<workDir>/<component>/bootstrap<ext>` with mode 0600, as kuma-dp
 * writes its bootstrap before starting Envoy, and returns the copy's path. A directory per
 * component lets several Envoys share a work dir. Rejects when the bootstrap cannot be read.
 */
export async function copyBootstrap(source: string, workDir: string, component: string): Promise<string> {
  const content = await readFile(source);
  const ext = extname(source).toLowerCase();
  const target = join(workDir, component, `bootstrap${BOOTSTRAP_EXTENSIONS.has(ext) ? ext : '.yaml'}`);
  await writePrivateFile(target, content);
  return target;
}

/**
 * Reads `admin.address` from a YAML or JSON bootstrap: `socket_address` or `pipe.path`.
 * `undefined` when the file is not YAML/JSON or has no admin address (nothing to compare).
 */
export function bootstrapAdminAddress(text: string): AdminAddress | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  const address = (doc as { admin?: { address?: Record<string, unknown> } } | null)?.admin?.address;
  const pipe = address?.pipe as { path?: unknown } | undefined;
  if (typeof pipe?.path === 'string') return { socketPath: pipe.path };
  const socket = address?.socket_address as { address?: unknown; port_value?: unknown } | undefined;
  if (typeof socket?.address === 'string' && typeof socket.port_value === 'number') {
    return { host: socket.address, port: socket.port_value };
  }
  return undefined;
}

/**
 * A warning when the bootstrap's admin address differs from the configured one: readiness and
 * draining would then talk to nothing. Port 0 in the bootstrap cannot be compared and is accepted.
 */
export function checkAdminAddress(text: string, configured: AdminAddress): Warning | undefined {
  const declared = bootstrapAdminAddress(text);
  if (!declared) return undefined;
  const same =
    'socketPath' in declared
      ? 'socketPath' in configured && declared.socketPath === configured.socketPath
      : 'host' in configured &&
        (declared.port === 0 ||
          (declared.port === configured.port && sameHost(declared.host, configured.host)));
  if (same) return undefined;
  return {
    code: 'ENVOY_ADMIN_MISMATCH',
    message: `the bootstrap's admin address is ${formatAdminAddress(declared)} but the component's \`admin\` is ${formatAdminAddress(configured)}; readiness and draining use the latter`,
  };
}

/** `declared` (from the bootstrap) serves `configured`: equal, both loopback, or a wildcard bind. */
function sameHost(declared: string, configured: string): boolean {
  const loopback = (h: string): boolean => h === 'localhost' || h === '127.0.0.1' || h === '::1';
  const wildcard = declared === '0.0.0.0' || declared === '::';
  return declared === configured || wildcard || (loopback(declared) && loopback(configured));
}
