// The client certificate of a request (RFC 8705): from the TLS socket when Portcullis serves TLS
// itself, or from the header a trusted proxy sets (src/http/clientAddress.ts removes it from
// everyone else), and whether a CA of TLS_CLIENT_CA_FILE issued it. Verified here, not in the
// handshake, so that self-signed certificates (self_signed_tls_client_auth) reach the protocol.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type Koa from 'koa';
import type { Clock } from '../clock.ts';
import { ConfigError } from '../config.ts';
import type { TlsSettings } from '../configTls.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle; throws ConfigError naming the variable when there is none or one is broken. */
export function readCertificateBundle(file: string, variable: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: ${variable} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${file}`,
    );
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new ConfigError(`Invalid configuration: ${variable} holds no PEM certificate: ${file}`);
  try {
    return blocks.map((pem) => new X509Certificate(pem));
  } catch {
    throw new ConfigError(`Invalid configuration: ${variable} holds a broken certificate: ${file}`);
  }
}

/** A header value as nginx's $ssl_client_escaped_cert writes it (URL-encoded PEM); undefined when it is none. */
export function certificateOfHeader(value: string | undefined): X509Certificate | undefined {
  if (!value) return undefined;
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const block = pem.match(PEM_CERTIFICATE);
  if (block?.length !== 1) return undefined;
  try {
    return new X509Certificate(block[0]);
  } catch {
    return undefined;
  }
}

const withinValidity = (cert: X509Certificate, now: number) =>
  Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);

export interface ClientCertificateOptions {
  /** Lower-case header name a trusted proxy sets; undefined: the TLS socket's certificate. */
  header: string | undefined;
  /** CA certificates (intermediates included) that tls_client_auth trusts. */
  trustedCas: X509Certificate[];
  clock: Clock;
}

const NONE = Symbol('no certificate');

/**
 * A bounded map that forgets its oldest entry when full. Parsing a certificate costs about a
 * millisecond (Node's X509Certificate constructor) and checking its signature a third of one,
 * while a client presents the same certificate request after request: each is done once.
 */
function boundedCache<K, V>(limit: number) {
  const entries = new Map<K, V>();
  return {
    get: (key: K) => entries.get(key),
    set(key: K, value: V) {
      if (entries.size >= limit) entries.delete(entries.keys().next().value as K);
      entries.set(key, value);
    },
  };
}

const CACHE_ENTRIES = 1000;

export function createClientCertificates(options: ClientCertificateOptions) {
  const cas = options.trustedCas.filter((ca) => ca.ca);
  const seen = new WeakMap<Koa.Context, X509Certificate | typeof NONE>();
  // Keyed by the header's exact text and by the connection: the same bytes, the same certificate.
  const parsedHeaders = boundedCache<string, X509Certificate | typeof NONE>(CACHE_ENTRIES);
  const peerCertificates = new WeakMap<object, X509Certificate | typeof NONE>();
  // Keyed by the SHA-256 fingerprint and the CA's place in the list: whether its signature is on it.
  const signedByTrustedCa = boundedCache<string, boolean>(CACHE_ENTRIES);

  function fromHeader(value: string): X509Certificate | typeof NONE {
    let cert = parsedHeaders.get(value);
    if (cert === undefined) {
      cert = certificateOfHeader(value) ?? NONE;
      parsedHeaders.set(value, cert);
    }
    return cert;
  }

  function fromSocket(socket: Partial<TLSSocket>): X509Certificate | typeof NONE {
    if (typeof socket.getPeerX509Certificate !== 'function') return NONE;
    let cert = peerCertificates.get(socket);
    if (cert === undefined) {
      cert = socket.getPeerX509Certificate() ?? NONE;
      peerCertificates.set(socket, cert);
    }
    return cert;
  }

  function fromRequest(ctx: Koa.Context): X509Certificate | typeof NONE {
    if (options.header) {
      const value = ctx.get(options.header);
      return value ? fromHeader(value) : NONE;
    }
    return fromSocket(ctx.req.socket as Partial<TLSSocket>);
  }

  return {
    /** The request's client certificate, read once per request. */
    of(ctx: Koa.Context): X509Certificate | undefined {
      let cert = seen.get(ctx);
      if (cert === undefined) {
        cert = fromRequest(ctx);
        seen.set(ctx, cert);
      }
      return cert === NONE ? undefined : cert;
    },

    /**
     * Whether a trusted CA issued the certificate and both are within their validity now. The CA
     * list is the trust anchor: an intermediate listed there is trusted as it is.
     */
    issuedByTrustedCa(cert: X509Certificate): boolean {
      const now = options.clock.now();
      if (!withinValidity(cert, now)) return false;
      return cas.some((ca, i) => {
        if (!withinValidity(ca, now) || !cert.checkIssued(ca)) return false;
        const key = `${cert.fingerprint256}/${i}`;
        let signed = signedByTrustedCa.get(key);
        if (signed === undefined) {
          signed = cert.verify(ca.publicKey);
          signedByTrustedCa.set(key, signed);
        }
        return signed;
      });
    },
  };
}

export type ClientCertificates = ReturnType<typeof createClientCertificates>;

/**
 * The client certificates of requests when they can reach Portcullis (over its own TLS, or from
 * a trusted proxy's header); undefined when neither is configured (no mutual TLS).
 */
export function clientCertificatesFor(tls: TlsSettings, clock: Clock) {
  if (!tls.server && !tls.certificateHeader) return undefined;
  return createClientCertificates({
    header: tls.certificateHeader,
    trustedCas: tls.clientCaFile
      ? readCertificateBundle(tls.clientCaFile, 'TLS_CLIENT_CA_FILE')
      : [],
    clock,
  });
}
