/** Throw-away certificates made with `openssl` at test time (no key is ever committed). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  /** The CA that signed the server and client certificates. */
  readonly caFile: string;
  /** A second CA that signed nothing here: trusting it alone must fail. */
  readonly otherCaFile: string;
  /** Server certificate for IP 127.0.0.1 and DNS `servername`. */
  readonly serverCert: string;
  readonly serverKey: string;
  readonly servername: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A server certificate for the same names, signed by the other CA (a server swapped underneath). */
  readonly rogueCert: string;
  readonly rogueKey: string;
  /** The redis-server arguments that serve TLS with these (client certificates not required). */
  serverArgs(authClients: 'no' | 'optional' | 'yes'): string[];
  /** Node TLS options a test client trusts the server with (and presents the client certificate). */
  clientTls(): { ca: Buffer; cert: Buffer; key: Buffer };
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

function signed(dir: string, name: string, caName: string, ext: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeCerts(servername = 'redis.pika-migrate.test'): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'pm-certs-'));
  ca(dir, 'test-ca');
  ca(dir, 'other-ca');
  signed(dir, 'server', 'test-ca', `subjectAltName=IP:127.0.0.1,DNS:${servername}\nextendedKeyUsage=serverAuth\n`);
  signed(dir, 'client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  signed(dir, 'rogue', 'other-ca', `subjectAltName=IP:127.0.0.1,DNS:${servername}\nextendedKeyUsage=serverAuth\n`);
  const f = (n: string) => join(dir, n);
  return {
    dir,
    caFile: f('test-ca.crt'),
    otherCaFile: f('other-ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    servername,
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    rogueCert: f('rogue.crt'),
    rogueKey: f('rogue.key'),
    serverArgs: (authClients) => ['--tls-cert-file', f('server.crt'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('test-ca.crt'), '--tls-auth-clients', authClients],
    clientTls: () => ({ ca: readFileSync(f('test-ca.crt')), cert: readFileSync(f('client.crt')), key: readFileSync(f('client.key')) }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
