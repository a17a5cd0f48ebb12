// What ties a client to its TLS certificate or keys (RFC 8705, RFC 9449): the certificate subject
// a tls_client_auth client presents, and whether its tokens are bound to DPoP or mTLS.
import { invalid } from '../errors.ts';

/** What a tls_client_auth certificate is matched by (RFC 8705 §2.1.2): its subject DN or one SAN. */
export type TlsSubjectKind = 'subject_dn' | 'san_dns' | 'san_uri' | 'san_ip' | 'san_email';
export const TLS_SUBJECT_KINDS: readonly TlsSubjectKind[] = [
  'subject_dn',
  'san_dns',
  'san_uri',
  'san_ip',
  'san_email',
];
/** How the client's tokens are bound to it: a DPoP key (RFC 9449) or its TLS certificate (RFC 8705). */
export type SenderConstraint = 'dpop' | 'mtls';
export const SENDER_CONSTRAINTS: readonly SenderConstraint[] = ['dpop', 'mtls'];

/** RFC 8705 §2.1.2: a tls_client_auth client names exactly one subject value; no other client does. */
export function tlsSubjectMetadata(input: {
  authMethod: string;
  tlsSubject?: { kind: TlsSubjectKind; value: string } | undefined;
}): Record<string, string> {
  const subject = input.tlsSubject;
  if (input.authMethod !== 'tls_client_auth') {
    if (subject)
      throw invalid('a certificate subject is only used with tls_client_auth', 'tlsSubject');
    return {};
  }
  if (!subject)
    throw invalid(
      'tls_client_auth needs the certificate subject: a subject DN or one subject alternative name',
      'tlsSubject',
    );
  if (!TLS_SUBJECT_KINDS.includes(subject.kind))
    throw invalid(
      `unknown certificate subject kind ${subject.kind} (allowed: ${TLS_SUBJECT_KINDS.join(', ')})`,
      'tlsSubject',
    );
  const value = typeof subject.value === 'string' ? subject.value.trim() : '';
  if (!value) throw invalid('the certificate subject needs a value', 'tlsSubject');
  return { [`tls_client_auth_${subject.kind}`]: value };
}

/** The tls_client_auth_* metadata member a client was registered with, if any. */
export function tlsSubjectOf(
  metadata: Record<string, unknown>,
): { kind: TlsSubjectKind; value: string } | null {
  for (const kind of TLS_SUBJECT_KINDS) {
    const value = metadata[`tls_client_auth_${kind}`];
    if (typeof value === 'string') return { kind, value };
  }
  return null;
}

/** The sender-constraint metadata: tokens bound to a DPoP key or to the TLS client certificate. */
export function senderConstraintMetadata(input: {
  senderConstraint?: SenderConstraint | undefined;
}): Record<string, boolean> {
  const constraint = input.senderConstraint;
  if (constraint === undefined) return {};
  if (!SENDER_CONSTRAINTS.includes(constraint))
    throw invalid(
      `unknown sender constraint ${constraint} (allowed: ${SENDER_CONSTRAINTS.join(', ')})`,
      'senderConstraint',
    );
  return constraint === 'dpop'
    ? { dpop_bound_access_tokens: true }
    : { tls_client_certificate_bound_access_tokens: true };
}

/** A client's sender constraint as its metadata records it; null: bearer tokens. */
export function senderConstraintOf(metadata: Record<string, unknown>): SenderConstraint | null {
  if (metadata.tls_client_certificate_bound_access_tokens) return 'mtls';
  return metadata.dpop_bound_access_tokens ? 'dpop' : null;
}
