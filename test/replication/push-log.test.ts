import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { pushedDirs } from '../../src/replication/push-log.js';

// Lines as our rsync daemon (Debian's rsync 3.2) logged a real Pika 3.2.7 push, interleaved sessions included.
const LOG = `2026/12/06 17:24:39 [5941] connect from UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5941] rsync allowed access on module document from UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5941] rsync to document/db0/strings/ from rsync_user@UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5941] receiving file list
2026/12/06 17:24:39 [5945] connect from UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5945] rsync to document/db0/zsets/ from rsync_user@UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5945] receiving file list
2026/12/06 17:24:39 [5941] sent 78 bytes  received 14952589 bytes  total size 14952589
2026/12/06 17:24:39 [5949] rsync to document/db1/hashes/ from rsync_user@UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5949] sent 78 bytes  received 7110 bytes  total size 6845
2026/12/06 17:24:39 [5953] rsync to document/db0/hashes/ from rsync_user@UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5953] rsync error: error in rsync protocol data stream (code 12) at io.c(228) [receiver=3.2.7]
2026/12/06 17:24:39 [5978] rsync to document/db0/info from rsync_user@UNDETERMINED (127.0.0.1)
2026/12/06 17:24:39 [5978] sent 40 bytes  received 132 bytes  total size 23
2026/12/06 17:24:40 [5917] sent 0 bytes  received 0 bytes  total size 0
`;

describe('pushedDirs (which type dirs a push has completed, from the rsync daemon log)', () => {
  it('counts a dir done when its session logged its exit line, and only then', () => {
    const done = pushedDirs(LOG, 'document', 'db0');
    assert.deepEqual([...done].sort(), ['strings']);
    assert.ok(!done.has('zsets'), 'a session still running is not done');
    assert.ok(!done.has('info'), 'files are not type dirs');
  });

  it('never takes a session that ended in error, nor another DB\'s dirs', () => {
    assert.ok(!pushedDirs(LOG, 'document', 'db0').has('hashes'));
    assert.deepEqual([...pushedDirs(LOG, 'document', 'db1')], ['hashes']);
  });

  it('takes the second pass of a dir whose first pass failed', () => {
    const again = `${LOG}2026/12/06 17:24:41 [5953] rsync to document/db0/hashes/ from rsync_user@UNDETERMINED (127.0.0.1)\n2026/12/06 17:24:41 [5953] sent 24 bytes  received 136 bytes  total size 6845\n`;
    assert.ok(pushedDirs(again, 'document', 'db0').has('hashes'), 'a pid reused by a later session');
  });
});
