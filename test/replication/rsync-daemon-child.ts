/**
 * A process that starts an RsyncDaemon on `<root> <port>`, prints `pid <daemon pid>` and waits
 * to be killed: the rsync daemon test kills it with SIGKILL and looks for the daemon.
 */
import { RsyncDaemon } from '../../src/replication/rsync-daemon.js';
import { silentLogger } from '../../src/core/log.js';

const [root, port] = process.argv.slice(2);
const d = new RsyncDaemon({ root, port: Number(port), address: '127.0.0.1', allowFrom: ['127.0.0.1'], password: '', logger: silentLogger() });
await d.start();
process.stdout.write(`pid ${d.pid}\n`);
setInterval(() => {}, 60_000);
