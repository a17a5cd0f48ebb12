// The main listener: plain http (behind a TLS-terminating proxy), or HTTPS served by Portcullis
// itself (TLS_CERT_FILE, TLS_KEY_FILE), which asks every client for a certificate but accepts
// connections without one or with one no CA vouches for: src/oidc/mtls.ts decides what a
// certificate is worth, so self-signed ones (self_signed_tls_client_auth) reach it too.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { ConfigError, type TlsSettings } from '../config.ts';
import { errorFacts, type Logger } from '../log.ts';

/**
 * TLS 1.2 only with the AEAD suites with forward secrecy that RFC 9325 (BCP 195) recommends, as
 * FAPI 2.0 §5.2.1 asks; TLS 1.3's own suites are all of that kind.
 */
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

function readPem(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: ${variable} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${file}`,
    );
  }
}

export function createListener(handler: RequestListener, tls: TlsSettings, logger: Logger): Server {
  if (!tls.server) return createHttpServer(handler);
  const server = createHttpsServer(
    {
      cert: readPem(tls.server.certFile, 'TLS_CERT_FILE'),
      key: readPem(tls.server.keyFile, 'TLS_KEY_FILE'),
      // Named in the certificate request, so a client (a browser) offers only matching certificates.
      ...(tls.clientCaFile ? { ca: readPem(tls.clientCaFile, 'TLS_CLIENT_CA_FILE') } : {}),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ciphers: CIPHERS,
    },
    handler,
  );
  // A handshake that fails (a port scan, a client that distrusts our certificate): one line.
  server.on('tlsClientError', (err) => {
    logger.info({ err: errorFacts(err) }, 'TLS handshake failed');
  });
  return server;
}
