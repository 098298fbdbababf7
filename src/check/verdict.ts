/** One line of the pre-flight report: what was looked at, what was found, and how to fix it. */
export type Verdict = 'ok' | 'warn' | 'fail';

export type CheckGroup = 'master' | 'network' | 'capacity' | 'target' | 'types';

export interface CheckItem {
  readonly group: CheckGroup;
  /** Stable name for scripts (`master.port`, `target.acl`, …). */
  readonly id: string;
  readonly verdict: Verdict;
  /** What was found, with the figures. */
  readonly detail: string;
  /** What to do about a warn or fail. */
  readonly fix?: string;
  /** The figures behind the verdict, for --json. */
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface CheckReport {
  /** The worst verdict of all items. */
  readonly verdict: Verdict;
  readonly items: readonly CheckItem[];
}

const RANK: Record<Verdict, number> = { ok: 0, warn: 1, fail: 2 };

export function reportOf(items: readonly CheckItem[]): CheckReport {
  let verdict: Verdict = 'ok';
  for (const i of items) if (RANK[i.verdict] > RANK[verdict]) verdict = i.verdict;
  return { verdict, items };
}

/** Whether something in the report stops the migration (exit 1). */
export function blocks(r: CheckReport): boolean {
  return r.verdict === 'fail';
}
