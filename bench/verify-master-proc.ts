/**
 * The verify benchmark's Pika: the test master (family A, 3.2.7) in a process of its own, its
 * client port serving verifyDataset(n). Sends {port} once listening; exits on {stop}.
 */
import { join } from 'node:path';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { FakeMaster } from '../test/master/fake-master.js';
import { PikaKeyspace } from '../test/master/pika-keyspace.js';
import { verifyDataset } from './verify-data.js';

const [n, at] = process.argv.slice(2).map(Number);
const keyspace = new PikaKeyspace('A');
for (const e of verifyDataset(n, at)) keyspace.set(e.key, e.value, e.expireAtMs);
const master = new FakeMaster({ family: 'A', snapshotSource: join(FIXTURES, 'snapshots/3.2.7-base/dump/db0'), keyspace });
await master.start();
process.send?.({ port: master.port });
process.on('message', () => {
  void master.stop().then(() => process.exit(0));
});
