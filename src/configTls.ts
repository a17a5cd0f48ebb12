// The mutual TLS variables (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE,
// MTLS_CERTIFICATE_HEADER, MTLS_ORIGIN) as one setting, combinations that cannot work refused.
import type { TrustedProxies } from './http/clientAddress.ts';

export interface TlsSettings {
  /** PEM files of the HTTPS listener; undefined: Portcullis listens on plain http. */
  server: { certFile: string; keyFile: string } | undefined;
  /** PEM file of the CA certificates (and intermediates) that issue tls_client_auth certificates. */
  clientCaFile: string | undefined;
  /** Lower-case header name a trusted proxy puts the verified client certificate in (URL-encoded PEM). */
  certificateHeader: string | undefined;
  /** Origin of the mTLS endpoint aliases (token, PAR, introspection, revocation, userinfo). */
  mtlsOrigin: string | undefined;
}

/** The variables as src/config.ts parsed them. */
export interface TlsVariables {
  TLS_CERT_FILE?: string | undefined;
  TLS_KEY_FILE?: string | undefined;
  TLS_CLIENT_CA_FILE?: string | undefined;
  MTLS_CERTIFICATE_HEADER?: string | undefined;
  MTLS_ORIGIN?: string | undefined;
  TRUSTED_PROXIES?: TrustedProxies | undefined;
}

/**
 * The mutual TLS settings, each combination that cannot work refused with its reason: a
 * certificate header is a credential, believed only from proxies named by address; the mTLS
 * origin must be https and differ from ISSUER's.
 */
export function tlsSettings(
  env: TlsVariables,
  issuer: string,
  fail: (message: string) => never,
): TlsSettings {
  if (Boolean(env.TLS_CERT_FILE) !== Boolean(env.TLS_KEY_FILE))
    fail('TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither');
  if (env.TLS_CERT_FILE && !issuer.startsWith('https:'))
    fail('ISSUER must use https when Portcullis serves TLS itself (TLS_CERT_FILE)');
  const header = env.MTLS_CERTIFICATE_HEADER;
  if (header && env.TRUSTED_PROXIES?.kind !== 'addresses')
    fail(
      'MTLS_CERTIFICATE_HEADER needs TRUSTED_PROXIES set to the addresses of the proxies that verify client certificates (e.g. 10.0.0.5 or 10.0.0.0/24): the header is believed only from them',
    );
  if (env.TLS_CLIENT_CA_FILE && !env.TLS_CERT_FILE && !header)
    fail(
      'TLS_CLIENT_CA_FILE needs a source of client certificates: TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER behind a proxy',
    );
  if (env.MTLS_ORIGIN) {
    if (!env.TLS_CERT_FILE && !header)
      fail('MTLS_ORIGIN needs TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER');
    if (!env.MTLS_ORIGIN.startsWith('https:')) fail('MTLS_ORIGIN must use https');
    if (new URL(env.MTLS_ORIGIN).host === new URL(issuer).host)
      fail("MTLS_ORIGIN must name another host (or port) than ISSUER's");
  }
  return {
    server:
      env.TLS_CERT_FILE && env.TLS_KEY_FILE
        ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE }
        : undefined,
    clientCaFile: env.TLS_CLIENT_CA_FILE,
    certificateHeader: header,
    mtlsOrigin: env.MTLS_ORIGIN,
  };
}
