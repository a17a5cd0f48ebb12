// Building blocks the admin API's zod schemas share (schemas.ts and the per-resource schema files).
import { z } from 'zod';
import { PROFILE_NAMES } from '../oidc/profiles.ts';

export const time = z.iso.datetime({ offset: true });
export const level = z
  .literal([1, 2, 3])
  .describe('assurance level: 1 password, 2 second factor, 3 phishing-resistant');
export const scopeName = z.string().min(1).max(128);

export const apiAccess = z
  .record(z.string().min(1).max(2000), z.array(scopeName).min(1).max(200))
  .describe('API identifier -> the scopes of that API allowed');
export const profile = z
  .enum(PROFILE_NAMES)
  .describe(
    'what its requests must obey: default, or fapi2 (FAPI 2.0: PAR, private_key_jwt or mTLS, DPoP- or certificate-bound tokens)',
  );
