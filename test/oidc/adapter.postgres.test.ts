import { test } from 'node:test';
import { adapterContract } from './adapterContract.ts';

if (process.env.TEST_DATABASE_URL) adapterContract('postgres');
else test('oidc adapter on PostgreSQL', { skip: 'TEST_DATABASE_URL is not set' }, () => {});
