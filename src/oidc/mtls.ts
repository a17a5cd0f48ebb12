// Mutual TLS (RFC 8705) as oidc-provider sees it: client authentication by certificate
// (tls_client_auth, self_signed_tls_client_auth), certificate-bound tokens (cnf.x5t#S256) and the
// mtls_endpoint_aliases of discovery. The certificate itself comes from src/http/clientCertificate.ts.

import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Configuration } from 'oidc-provider';
import type { ClientCertificates } from '../http/clientCertificate.ts';

/** The endpoints a client reaches through the mTLS origin, with oidc-provider's default routes. */
export const MTLS_ALIASED_ENDPOINTS = {
  token_endpoint: '/token',
  pushed_authorization_request_endpoint: '/request',
  introspection_endpoint: '/token/introspection',
  revocation_endpoint: '/token/revocation',
  userinfo_endpoint: '/me',
} as const;

export const MTLS_ALIASED_PATHS: ReadonlySet<string> = new Set(
  Object.values(MTLS_ALIASED_ENDPOINTS),
);

/** The RFC 8705 §2.1.2 registration parameters, each naming what it is compared with. */
export type SubjectProperty =
  | 'tls_client_auth_subject_dn'
  | 'tls_client_auth_san_dns'
  | 'tls_client_auth_san_uri'
  | 'tls_client_auth_san_ip'
  | 'tls_client_auth_san_email';

export const SUBJECT_PROPERTIES: readonly SubjectProperty[] = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
];

/** Short names of the attributes people write in a DN, by the names and OIDs OpenSSL may print. */
const ATTRIBUTE_ALIASES: Record<string, string> = {
  commonname: 'cn',
  '2.5.4.3': 'cn',
  organizationname: 'o',
  '2.5.4.10': 'o',
  organizationalunitname: 'ou',
  '2.5.4.11': 'ou',
  countryname: 'c',
  '2.5.4.6': 'c',
  localityname: 'l',
  '2.5.4.7': 'l',
  stateorprovincename: 'st',
  '2.5.4.8': 'st',
  serialnumber: '2.5.4.5',
  organizationidentifier: '2.5.4.97',
  emailaddress: '1.2.840.113549.1.9.1',
  email: '1.2.840.113549.1.9.1',
  uid: '0.9.2342.19200300.100.1.1',
  userid: '0.9.2342.19200300.100.1.1',
  dc: '0.9.2342.19200300.100.1.25',
  domaincomponent: '0.9.2342.19200300.100.1.25',
};

type Attribute = [type: string, value: string];

function normalAttribute(type: string, value: string): Attribute {
  const lower = type.trim().toLowerCase();
  return [ATTRIBUTE_ALIASES[lower] ?? lower, value.trim().replace(/\s+/g, ' ').toLowerCase()];
}

/** Splits `text` at each unescaped `separator`, dropping backslash escapes (RFC 4514 §2.4). */
function splitEscaped(text: string, separators: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      const hex = /^[0-9a-fA-F]{2}/.exec(text.slice(i + 1, i + 3));
      current += hex ? String.fromCharCode(Number.parseInt(hex[0], 16)) : text[i + 1];
      i += hex ? 2 : 1;
    } else if (separators.includes(ch)) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** A DN string as RFC 4514 writes it (`CN=tpp,O=Bank,C=GB`), as attributes; undefined when malformed. */
export function parseDistinguishedName(dn: string): Attribute[] | undefined {
  const attributes: Attribute[] = [];
  for (const part of splitEscaped(dn, ',+')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    attributes.push(normalAttribute(part.slice(0, eq), part.slice(eq + 1)));
  }
  return attributes.length ? attributes : undefined;
}

/** The subject of a certificate as Node prints it (one `type=value` per line, in encoded order). */
function subjectAttributes(cert: X509Certificate): Attribute[] {
  return cert.subject
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const eq = line.indexOf('=');
      return normalAttribute(line.slice(0, eq), line.slice(eq + 1));
    });
}

const sameAttributes = (a: Attribute[], b: Attribute[]) =>
  a.length === b.length && a.every(([type, value], i) => b[i]![0] === type && b[i]![1] === value);

/**
 * Whether the certificate's subject is the registered DN: compared attribute by attribute, types
 * by name or OID and values without case or repeated spaces, in RFC 4514 order (the last RDN
 * first) or in the certificate's own order as OpenSSL prints it.
 */
export function subjectDnMatches(cert: X509Certificate, registered: string): boolean {
  const expected = parseDistinguishedName(registered);
  if (!expected) return false;
  const actual = subjectAttributes(cert);
  return sameAttributes(actual, expected) || sameAttributes([...actual].reverse(), expected);
}

/** The subjectAltName entries of a certificate, as [kind, value] (Node quotes values with commas as JSON). */
export function subjectAltNames(cert: X509Certificate): Array<[string, string]> {
  const text = cert.subjectAltName;
  if (!text) return [];
  const entries: Array<[string, string]> = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    let value = match[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    entries.push([match[1]!, value]);
    if (pattern.lastIndex >= text.length) break;
  }
  return entries;
}

/** An IP address in one form, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
function canonicalIp(value: string): string | undefined {
  const version = isIP(value.trim());
  if (version === 4) return value.trim();
  if (version !== 6) return undefined;
  const url = URL.parse(`http://[${value.trim()}]/`);
  return url?.hostname;
}

const SAN_KINDS: Record<Exclude<SubjectProperty, 'tls_client_auth_subject_dn'>, string> = {
  tls_client_auth_san_dns: 'DNS',
  tls_client_auth_san_uri: 'URI',
  tls_client_auth_san_ip: 'IP Address',
  tls_client_auth_san_email: 'email',
};

/** RFC 8705 §2.1.2: the registered value equals the subject DN, or one SAN entry of the named kind. */
export function certificateSubjectMatches(
  cert: X509Certificate,
  property: string,
  expected: string,
): boolean {
  if (property === 'tls_client_auth_subject_dn') return subjectDnMatches(cert, expected);
  const kind = SAN_KINDS[property as keyof typeof SAN_KINDS];
  if (!kind) return false;
  const values = subjectAltNames(cert)
    .filter(([k]) => k === kind)
    .map(([, v]) => v);
  switch (property) {
    case 'tls_client_auth_san_dns':
      return values.some((v) => v.toLowerCase() === expected.toLowerCase());
    case 'tls_client_auth_san_ip': {
      const wanted = canonicalIp(expected);
      return wanted !== undefined && values.some((v) => canonicalIp(v) === wanted);
    }
    default:
      return values.includes(expected);
  }
}

export interface MtlsOptions {
  certificates: ClientCertificates;
  /** Origin of the mtls_endpoint_aliases; undefined: none advertised. */
  mtlsOrigin: string | undefined;
}

/** The parts of oidc-provider's configuration that mutual TLS adds (spread in by configuration.ts). */
export function mtlsConfiguration(options: MtlsOptions): {
  clientAuthMethods: Array<'tls_client_auth' | 'self_signed_tls_client_auth'>;
  mTLS: NonNullable<NonNullable<Configuration['features']>['mTLS']>;
  discovery: Record<string, unknown>;
} {
  const { certificates } = options;
  const aliases = options.mtlsOrigin
    ? Object.fromEntries(
        Object.entries(MTLS_ALIASED_ENDPOINTS).map(([name, path]) => [
          name,
          `${options.mtlsOrigin}${path}`,
        ]),
      )
    : undefined;
  return {
    clientAuthMethods: ['tls_client_auth', 'self_signed_tls_client_auth'],
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      // The library takes an X509Certificate as well as PEM (its thumbprint reads cert.raw).
      getCertificate: (ctx) => certificates.of(ctx) as never,
      certificateAuthorized: (ctx) => {
        const cert = certificates.of(ctx);
        return cert !== undefined && certificates.issuedByTrustedCa(cert);
      },
      certificateSubjectMatches: (ctx, property, expected) => {
        const cert = certificates.of(ctx);
        return cert !== undefined && certificateSubjectMatches(cert, property, expected);
      },
    },
    discovery: aliases ? { mtls_endpoint_aliases: aliases } : {},
  };
}
