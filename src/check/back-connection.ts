import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/load.js';
import { localAddressOf } from '../daemon/network.js';
import type { CheckItem } from './verdict.js';
import type { MasterFacts } from './master.js';

/**
 * Pika 3.2–3.4 push the snapshot to the replica: the master's rsync connects to the address the
 * replica announced, port+1000. What we can prove from here: that port+1000 can be bound (nothing
 * else holds it), that the address we announce is one of this host's and is covered by `bind`,
 * and that it is not a loopback address when the master is on another host (it would push to
 * itself). What we cannot prove is that the master's packets reach us (a firewall between the
 * hosts): only the master can open that connection, and nothing makes it try before a full sync.
 */
export async function checkBackConnection(config: Config, m: MasterFacts): Promise<CheckItem[]> {
  const v = config.values;
  const rsyncPort = v.port + 1000;
  const family = m.pika?.family;
  if (family !== 'A' && family !== 'B') {
    return family === undefined ? [] : [{ group: 'network', id: 'network.back-connection', verdict: 'ok', detail: `not needed: Pika ${m.pika?.version} serves the snapshot itself on P+10001, we connect to it` }];
  }
  const announced = v['network-interface'] !== '' ? localAddressOf(v['network-interface']) : m.localAddress;
  const bindErr = await tryListen(v.bind, rsyncPort);
  if (bindErr !== null) {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'fail', detail: `cannot listen on ${v.bind}:${rsyncPort} (port+1000, where the master pushes the snapshot): ${bindErr}`, fix: `free port ${rsyncPort} (another pika-migrate or rsync daemon?) or change port` }];
  }
  if (announced === null || announced === '') {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'warn', detail: 'the address announced to the master is unknown (no connection to it)', fix: 'set network-interface to the interface that faces the master' }];
  }
  const masterLocal = isLoopback(m.address.host) || isLocalAddress(m.address.host);
  const data = { announced, rsyncPort, master: m.address.host };
  if (!isLocalAddress(announced)) {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'fail', detail: `we would announce ${announced}, which is not an address of this host`, fix: 'set network-interface to the interface that faces the master', data }];
  }
  if (isLoopback(announced) && !masterLocal) {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'fail', detail: `we would announce the loopback address ${announced} to a master on ${m.address.host}: it would push the snapshot to itself`, fix: 'set network-interface to the interface that faces the master', data }];
  }
  if (v.bind !== '0.0.0.0' && v.bind !== '::' && v.bind !== announced) {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'fail', detail: `port ${rsyncPort} listens on bind ${v.bind}, but the master is told ${announced}`, fix: `set bind to ${announced} or 0.0.0.0`, data }];
  }
  if (masterLocal) {
    return [{ group: 'network', id: 'network.back-connection', verdict: 'ok', detail: `the master is on this host; it will push to ${announced}:${rsyncPort}, which we can listen on`, data }];
  }
  return [
    {
      group: 'network',
      id: 'network.back-connection',
      verdict: 'warn',
      detail: `${announced}:${rsyncPort} can be listened on and is what the master will be told; whether ${m.address.host} can reach it cannot be proven from here (only the master opens that connection, at the full sync)`,
      fix: `make sure the firewalls allow tcp from ${m.address.host} to ${announced}:${rsyncPort} (e.g. iptables -A INPUT -p tcp -s ${m.address.host} --dport ${rsyncPort} -j ACCEPT); with Docker publish ${rsyncPort}`,
      data,
    },
  ];
}

/** Binds and closes at once; the error code when the port cannot be bound. */
function tryListen(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1' || addr === 'localhost' || addr === '::ffff:127.0.0.1';
}

function isLocalAddress(addr: string): boolean {
  if (isLoopback(addr)) return true;
  const plain = addr.replace(/^::ffff:/, '');
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address === plain));
}
