/**
 * Which conf keys hold secrets, and how they are shown. The one place that decides it: CONFIG GET,
 * INFO, the log and conf error messages all ask here, so a key cannot be masked in one and shown
 * in another.
 */

/** Keys that are secrets by name though the pattern below would not catch them. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['requirepass', 'masterauth', 'userpass', 'target-redis-pwd', 'target-redis-sentinel-pwd', 'master-client-pwd']);

/** Any other key naming a password or a secret (Pika's and ours, present and future). */
const SECRET_PATTERN = /pass|pwd|secret/i;

export const MASK = '******';

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase()) || SECRET_PATTERN.test(key);
}

/** The value to show for a key: secrets are masked, an empty secret stays empty (it tells "none is set"). */
export function shownValue(key: string, value: string): string {
  return isSecretKey(key) && value !== '' ? MASK : value;
}

/**
 * A copy of a log object with every secret-named property masked, nested objects included (up to a
 * few levels: log objects are small). A secret-named property is masked whatever its type.
 */
export function maskSecrets<T>(obj: T, depth = 3): T {
  if (obj === null || typeof obj !== 'object' || depth === 0 || obj instanceof Error || Buffer.isBuffer(obj) || Array.isArray(obj)) return obj;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const masked = isSecretKey(k) ? (v === '' || v === null || v === undefined ? v : MASK) : maskSecrets(v, depth - 1);
    if (masked !== v) {
      out ??= { ...(obj as Record<string, unknown>) };
      out[k] = masked;
    }
  }
  return (out ?? obj) as T;
}
