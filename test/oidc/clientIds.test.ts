// Client ids are given on command lines (`portcullis client show ID`): one starting with "-" was
// read as an option and failed CI at random (1 in 64 ids). They must never start with "-".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClientId } from '../../src/oidc/clients.ts';

test('client ids are 128-bit base64url and never start with "-"', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const id = newClientId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 20_000);
});
