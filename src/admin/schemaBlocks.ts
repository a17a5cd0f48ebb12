// Building blocks the admin API's zod schemas share (schemas.ts and the per-resource schema files).
import { z } from 'zod';

export const time = z.iso.datetime({ offset: true });
export const level = z
  .literal([1, 2, 3])
  .describe('assurance level: 1 password, 2 second factor, 3 phishing-resistant');
export const scopeName = z.string().min(1).max(128);
