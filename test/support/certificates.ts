// Certificates for the mutual TLS tests, made with the openssl CLI in a temporary directory (never
// committed): a server CA and its localhost certificate, a CA for third-party providers and the
// client certificates it issues, a CA nobody trusts, and a self-signed client certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Identity {
  /** PEM of the certificate and of its private key. */
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  dir: string;
  /** Trusts the server certificate (what clients verify the server with). */
  serverCa: Identity;
  /** For localhost, 127.0.0.1 and ::1. */
  server: Identity;
  /** The CA that issues third-party providers' certificates: TLS_CLIENT_CA_FILE. */
  tppCa: Identity;
  /** Issued by tppCa: subject CN=tpp-one,O=Fintech One,C=GB; SANs DNS, URI, e-mail. */
  tppOne: Identity;
  /** Issued by tppCa: subject CN=tpp-two,O=Fintech Two,C=GB. */
  tppTwo: Identity;
  /** tppOne's subject, issued by a CA nobody trusts. */
  rogue: Identity;
  /** Self-signed (self_signed_tls_client_auth), and another for the wrong-certificate cases. */
  selfSigned: Identity;
  otherSelfSigned: Identity;
  remove(): void;
}

const DAYS = '2';

function openssl(args: string[], dir: string): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function identity(dir: string, name: string): Identity {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
  };
}

/** openssl arguments that make a new unencrypted P-256 key in `${name}.key`. */
const newP256Key = (name: string) => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  `${name}.key`,
];

/** A P-256 key and a self-signed certificate (a CA when `ca`). */
function selfSigned(dir: string, name: string, subject: string, ca: boolean): Identity {
  openssl(
    [
      'req',
      '-x509',
      ...newP256Key(name),
      '-out',
      `${name}.pem`,
      '-days',
      DAYS,
      '-subj',
      subject,
      ...(ca
        ? [
            '-addext',
            'basicConstraints=critical,CA:TRUE',
            '-addext',
            'keyUsage=critical,keyCertSign',
          ]
        : ['-addext', 'basicConstraints=critical,CA:FALSE']),
    ],
    dir,
  );
  return identity(dir, name);
}

/** A P-256 key and a certificate for it issued by `ca`, with the given extensions. */
function issued(dir: string, name: string, subject: string, ca: string, ext: string): Identity {
  openssl(['req', '-new', ...newP256Key(name), '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      DAYS,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return identity(dir, name);
}

const CLIENT_EXT = (san: string) =>
  `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n${san ? `subjectAltName=${san}\n` : ''}`;

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
  const serverCa = selfSigned(dir, 'server-ca', '/CN=Portcullis Test Server CA', true);
  const server = issued(
    dir,
    'server',
    '/CN=localhost',
    'server-ca',
    'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n',
  );
  const tppCa = selfSigned(dir, 'tpp-ca', '/CN=Open Banking Test TPP CA/O=Test Scheme', true);
  const tppOne = issued(
    dir,
    'tpp-one',
    '/C=GB/O=Fintech One/CN=tpp-one',
    'tpp-ca',
    CLIENT_EXT('DNS:tpp-one.example,URI:https://tpp-one.example/app,email:ops@tpp-one.example'),
  );
  const tppTwo = issued(dir, 'tpp-two', '/C=GB/O=Fintech Two/CN=tpp-two', 'tpp-ca', CLIENT_EXT(''));
  selfSigned(dir, 'rogue-ca', '/CN=Open Banking Test TPP CA/O=Test Scheme', true);
  const rogue = issued(dir, 'rogue', '/C=GB/O=Fintech One/CN=tpp-one', 'rogue-ca', CLIENT_EXT(''));
  return {
    dir,
    serverCa,
    server,
    tppCa,
    tppOne,
    tppTwo,
    rogue,
    selfSigned: selfSigned(dir, 'self-signed', '/CN=self-signed-tpp', false),
    otherSelfSigned: selfSigned(dir, 'other-self-signed', '/CN=self-signed-tpp', false),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The certificate as a JWK's x5c entry (base64 DER). */
export const x5cOf = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
