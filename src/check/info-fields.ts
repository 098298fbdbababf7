/** `INFO`'s `field:value` lines as a map (Redis and Pika alike); section headers and blank lines skipped. */
export function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** A numeric INFO field, or null when absent or not a number. */
export function infoNumber(fields: ReadonlyMap<string, string>, name: string): number | null {
  const raw = fields.get(name);
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}
