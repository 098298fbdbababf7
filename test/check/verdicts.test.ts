import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { retentionVerdict } from '../../src/check/capacity.js';
import { renderTable } from '../../src/check/render.js';
import { blocks, reportOf } from '../../src/check/verdict.js';

const MiB = 2 ** 20;
const base = { expireLogsNums: 10, binlogFileSize: 100 * MiB, expireLogsDays: 7, spoolMaxBytes: 8 * 1024 * MiB };

test('binlog retention: twice the ETA kept is ok, a gap the spool covers warns, a gap it cannot cover fails with the expire-logs-nums to set', () => {
  // 1000 MiB kept at 1 MiB/s = 1000 s.
  assert.equal(retentionVerdict({ ...base, binlogBytesPerSec: MiB, etaSeconds: 400 }).verdict, 'ok');
  const warn = retentionVerdict({ ...base, binlogBytesPerSec: MiB, etaSeconds: 3600 });
  assert.equal(warn.verdict, 'warn');
  assert.match(warn.detail, /spool/);
  const fail = retentionVerdict({ ...base, spoolMaxBytes: 100 * MiB, binlogBytesPerSec: MiB, etaSeconds: 3600 });
  assert.equal(fail.verdict, 'fail');
  // 3600 MiB written meanwhile, twice that in 100 MiB files.
  assert.match(fail.fix ?? '', /CONFIG SET expire-logs-nums 72\b/);
  // A load longer than expire-logs-days is not saved by the spool.
  assert.equal(retentionVerdict({ ...base, expireLogsDays: 1, binlogBytesPerSec: 1, etaSeconds: 3 * 86_400 }).verdict, 'fail');
  // An idle master keeps its binlog for expire-logs-days.
  assert.equal(retentionVerdict({ ...base, binlogBytesPerSec: 0, etaSeconds: 3600 }).verdict, 'ok');
  assert.equal(retentionVerdict({ ...base, binlogBytesPerSec: null, etaSeconds: 3600 }).verdict, 'warn');
  assert.equal(retentionVerdict({ ...base, expireLogsNums: NaN, binlogBytesPerSec: MiB, etaSeconds: 1 }).verdict, 'warn');
});

test('the report takes the worst verdict; only a fail blocks; the table prints fixes of warn and fail only', () => {
  const ok = { group: 'master', id: 'master.port', verdict: 'ok', detail: 'open', fix: 'never shown' } as const;
  const warn = { group: 'types', id: 'types.multi-type', verdict: 'warn', detail: '3 names', fix: 'choose type-order' } as const;
  const fail = { group: 'target', id: 'target.acl', verdict: 'fail', detail: 'no evalsha', fix: 'ACL SETUSER …' } as const;
  assert.equal(reportOf([ok]).verdict, 'ok');
  assert.equal(blocks(reportOf([ok, warn])), false);
  const r = reportOf([ok, warn, fail]);
  assert.equal(r.verdict, 'fail');
  assert.equal(blocks(r), true);
  const text = renderTable(r);
  assert.doesNotMatch(text, /never shown/);
  assert.match(text, /^WARN {2}types\.multi-type {2}3 names$/m);
  assert.match(text, /fix: ACL SETUSER/);
  assert.match(text, /1 failing, 1 warnings/);
});
