// Every kind of security event Portcullis records, with the details each kind may carry. An
// allow-list: an event of an unlisted kind is refused, and a detail not listed for its kind is
// never stored, so a secret passed to a call site by mistake cannot reach the log.

/** Details every change made by an administrator carries: where it came from (and the client). */
const CHANGE = ['via', 'client'] as const;
/** What a client may do, as the client events describe it (never its secret). */
const CLIENT = [
  'name',
  'grantTypes',
  'authMethod',
  'redirectUris',
  'apiAccess',
  'firstParty',
  'minAssuranceLevel',
  'rateLimit',
  'profile',
  // Mutual TLS: the certificate subject a tls_client_auth client presents, and token binding.
  'tlsSubject',
  'senderConstraint',
  'requireSignedRequestObject',
  // PKCE optional for a confidential OpenID Connect RP (absent: required).
  'pkce',
  // The algorithms of its signed responses (ID token, UserInfo, JARM, introspection), when chosen.
  'signing',
  // Logout to relying parties (where logout tokens and the front-channel iframe go).
  'backchannelLogoutUri',
  'frontchannelLogoutUri',
  // CIBA clients: delivery mode, notification endpoint, request signing algorithm.
  'backchannel',
] as const;

/**
 * Action -> the `details` keys it may carry. Keys name facts about the event (ids, counts,
 * methods, reasons, before/after of what an administrator changed), never credentials.
 */
export const AUDIT_KINDS = {
  // Sign-in and second factors (src/interactions/).
  'login.success': ['client', 'level', 'amr', 'stepUp'],
  'login.failure': ['reason', 'method', 'client'],
  'login.rate_limited': ['client', 'method'],
  'account.locked': ['until', 'reason'],
  'mfa.used': ['method', 'client'],
  'mfa.failure': ['method', 'reason', 'client'],
  'mfa.enrolled': ['method', 'name', 'during', 'client'],
  'mfa.removed': ['method', 'credential'],
  'mfa.change_refused': ['change', 'method', 'during', 'reason', 'level', 'required', 'client'],
  'recovery_code.used': ['method', 'client'],
  'recovery_codes.regenerated': [],
  'consent.given': ['how', 'scopes', 'resources', 'refused', 'consent', 'detailTypes'],
  'consent.denied': [],
  // Consents of rich authorization requests: revoked by the person (account page) or an
  // administrator, consumed by the API that executes a payment (src/http/consentApi.ts).
  'consent.revoked': ['grants', 'types', 'tokens', ...CHANGE],
  'consent.consumed': ['api', 'types'],
  'consent.consume_refused': ['api', 'types', 'status', 'reason'],
  // A consent with authorization_details refused on the page (the consent record is 'rejected').
  'consent.rejected': ['consent', 'detailTypes'],
  // Dynamic linking: the WebAuthn assertion over one payment (canonicalHash: the payment's,
  // credential: the internal id of the key used), and its failures with why.
  'consent.payment_authorised': [
    'consent',
    'canonicalHash',
    'client',
    'credential',
    'userVerified',
  ],
  'consent.payment_failed': ['consent', 'canonicalHash', 'client', 'reason'],
  'logout.success': ['client', 'everywhere', 'device'],
  // Back-channel logout to a relying party (src/logout/outbox.ts): delivered, or given up.
  'logout.backchannel_delivered': ['client', 'attempt', 'reason'],
  'logout.backchannel_failed': ['client', 'attempt', 'error', 'reason'],
  // Device flow (RFC 8628, src/interactions/device.ts): a person approved a device's request, or
  // cancelled it (on the device page, the sign-in or the consent).
  'device.code_confirmed': ['client'],
  'device.code_refused': ['client'],
  // Backchannel authentication (CIBA, src/oidc/ciba.ts and src/interactions/approvals.ts): a
  // client's request for a person's approval, and the person's decision on their account page.
  'ciba.requested': ['approval', 'level', 'mode', 'expiresIn', 'mailed'],
  'ciba.approved': ['approval', 'client', 'level', 'method'],
  'ciba.denied': ['approval', 'client', 'reason'],

  // The protocol (src/oidc/events.ts).
  'token.issued': ['grantType', 'scope', 'audience'],
  'token.revoked': ['kind', 'grant'],
  // Token exchange (RFC 8693, src/oidc/tokenExchange/): who exchanged whose token, between which APIs.
  'token.exchanged': ['subjectClient', 'fromApi', 'toApi', 'scope', 'bound'],
  'grant.revoked': [],
  'refresh_token.reused': [],
  'authorization_code.reused': [],
  'client.registered': ['via', 'initialAccess'],
  // Per-client request limits (src/limits/): the first refusal of a client in a window.
  'client.rate_limited': ['endpoint', 'limit'],

  // Administration (admin API and CLI).
  'admin_api.denied': ['method', 'route', 'scope', 'granting'],
  'admin.bootstrapped': [...CHANGE, 'forced', 'clientGrantAdmin'],
  'api.created': [
    ...CHANGE,
    'name',
    'format',
    'lifetime',
    'scopes',
    'resourceServers',
    'detailTypes',
    'consentScope',
    'public',
  ],
  'api.updated': [...CHANGE, 'before', 'after'],
  'api.deleted': [
    ...CHANGE,
    'name',
    'format',
    'lifetime',
    'scopes',
    'resourceServers',
    'detailTypes',
    'consentScope',
    'public',
  ],
  'client.created': [...CHANGE, ...CLIENT],
  'client.updated': [...CHANGE, 'before', 'after'],
  'client.deleted': [...CHANGE, ...CLIENT],
  'client.secret_rotated': [...CHANGE],
  'initial_access.created': [
    ...CHANGE,
    'description',
    'apiAccess',
    'minAssuranceLevel',
    'singleUse',
    'expiresAt',
    'profile',
  ],
  'initial_access.revoked': [...CHANGE],
  'role.created': [...CHANGE, 'scopes', 'description'],
  'role.updated': [...CHANGE, 'before', 'after'],
  'role.deleted': [...CHANGE, 'scopes', 'members'],
  'role.granted': [...CHANGE, 'role', 'before', 'after'],
  'role.revoked': [...CHANGE, 'role', 'before', 'after'],
  'user.created': [...CHANGE, 'email', 'roles'],
  'user.password_set': [...CHANGE, 'revoked'],
  'user.locked': [...CHANGE, 'before', 'after'],
  'user.unlocked': [...CHANGE, 'before', 'after'],
  'user.disabled': [...CHANGE, 'before', 'after'],
  'user.enabled': [...CHANGE, 'before', 'after'],
  'user.factors_reset': [...CHANGE, 'removed'],
  'user.sessions_revoked': [...CHANGE, 'revoked'],
  'key.rotated': [...CHANGE, 'alg', 'activatesAt', 'retiresPreviousAt', 'immediately'],
  'key.revoked': [...CHANGE, 'alg', 'wasActive', 'replacedBy'],
  'issuer.changed': [...CHANGE, 'from', 'to', 'clientsMoved'],
  'secrets.reencrypted': [
    ...CHANGE,
    'signingKeysMoved',
    'clientsMoved',
    'authenticatorAppsMoved',
    'encryptionKeyId',
  ],
} as const satisfies Record<string, readonly string[]>;

export type AuditKinds = Readonly<Record<string, readonly string[]>>;
export type AuditAction = keyof typeof AUDIT_KINDS;
