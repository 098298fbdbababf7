import type { CheckReport } from './verdict.js';

/** `--json`: the report as one JSON document (verdict, then every item with its figures). */
export function renderJson(r: CheckReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** For a person: one line per item (verdict, id, what was found), its fix indented below, then the overall verdict. */
export function renderTable(r: CheckReport): string {
  const width = Math.max(...r.items.map((i) => i.id.length), 4);
  const lines: string[] = [];
  for (const i of r.items) {
    lines.push(`${MARK[i.verdict]}  ${i.id.padEnd(width)}  ${i.detail}`);
    if (i.fix !== undefined && i.verdict !== 'ok') lines.push(`${' '.repeat(width + 8)}fix: ${i.fix}`);
  }
  const n = (v: string) => r.items.filter((i) => i.verdict === v).length;
  lines.push('');
  lines.push(
    r.verdict === 'fail'
      ? `pre-flight: ${n('fail')} failing, ${n('warn')} warnings: fix the failing items before starting the migration`
      : `pre-flight: nothing blocks the migration (${n('warn')} warnings)`,
  );
  return lines.join('\n') + '\n';
}
