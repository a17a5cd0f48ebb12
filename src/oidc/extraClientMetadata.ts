// The client metadata Portcullis adds to oidc-provider's standard set, and the library's check of
// it: types and bounds of each field, and the client's profile enforced on every client it loads.
import { errors } from 'oidc-provider';
import { rateLimitOfMetadata } from '../limits/rateLimit.ts';
import { pkceMetadataProblem } from './pkceSetting.ts';
import { enforceProfileOnLoad, profileOf, type ServerProfileSetting } from './profiles.ts';

/** Client metadata Portcullis adds to the standard set. */
export const EXTRA_CLIENT_METADATA = [
  'api_access',
  'first_party',
  'min_assurance_level',
  'rate_limit',
  'profile',
  'pkce',
  // Front-Channel Logout 1.0 (not built into oidc-provider 9: src/oidc/frontchannelLogout.ts).
  'frontchannel_logout_uri',
  'frontchannel_logout_session_required',
];

/**
 * oidc-provider's check of the extra metadata. A client's profile (src/oidc/profiles.ts) is
 * enforced here too, on every client the library loads however it was stored: what the profile
 * forbids makes the client invalid, what it demands (PAR, sender-constrained tokens) is added.
 */
export const validateExtraMetadataFor =
  (setting: ServerProfileSetting) =>
  (ctx: unknown, key: string, value: unknown, metadata?: Record<string, unknown>): void => {
    if (key === 'profile') {
      if (value !== undefined && value !== 'fapi2')
        throw new TypeError('profile must be fapi2 (or absent)');
      const profile = profileOf({ profile: value }, setting);
      try {
        if (profile.fapi && metadata) enforceProfileOnLoad(profile, metadata);
      } catch (err) {
        // The library's own error (400), not a TypeError (500).
        throw new errors.InvalidClientMetadata((err as Error).message);
      }
      return;
    }
    if (key === 'pkce') {
      const problem = pkceMetadataProblem(value, metadata);
      if (problem) throw new errors.InvalidClientMetadata(problem);
      return;
    }
    validateExtraMetadata(ctx, key, value);
  };

function validateExtraMetadata(_ctx: unknown, key: string, value: unknown): void {
  if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
    throw new TypeError('first_party must be a boolean');
  }
  if (
    key === 'min_assurance_level' &&
    value !== undefined &&
    ![1, 2, 3].includes(value as number)
  ) {
    throw new TypeError('min_assurance_level must be 1, 2 or 3');
  }
  if (key === 'rate_limit' && value !== undefined && !rateLimitOfMetadata(value)) {
    throw new TypeError('rate_limit must be { requests, window_seconds } within their bounds');
  }
  if (key === 'frontchannel_logout_uri' && value !== undefined) {
    const url = typeof value === 'string' ? URL.parse(value) : null;
    if (!url || !['https:', 'http:'].includes(url.protocol) || url.hash)
      throw new TypeError('frontchannel_logout_uri must be an absolute http(s) URI');
  }
  if (
    key === 'frontchannel_logout_session_required' &&
    value !== undefined &&
    typeof value !== 'boolean'
  ) {
    throw new TypeError('frontchannel_logout_session_required must be a boolean');
  }
  if (key === 'api_access' && value !== undefined) {
    const ok =
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.values(value).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'));
    if (!ok) throw new TypeError('api_access must map API identifiers to lists of scopes');
  }
}
