import { networkInterfaces } from 'node:os';
import { ConfigError } from '../core/errors.js';

/** The IPv4 address of `network-interface` (what Pika announces to its master), IPv6 when it has none. */
export function localAddressOf(ifname: string): string {
  const addrs = networkInterfaces()[ifname];
  if (addrs === undefined || addrs.length === 0) throw new ConfigError(`network-interface: no interface named ${ifname}`);
  const v4 = addrs.find((a) => a.family === 'IPv4');
  return (v4 ?? addrs[0]).address;
}
