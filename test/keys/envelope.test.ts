import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createSealer, SealedValueError } from '../../src/keys/envelope.ts';

const k = (id: string) => ({ id, key: randomBytes(32) });

describe('envelope encryption', () => {
  const old = k('old');
  const fresh = k('new');

  test('a sealed value opens in its context and shows nothing of the plaintext', () => {
    const sealer = createSealer([old]);
    const sealed = sealer.seal('top secret value', 'clients:c1:secret');
    assert.ok(!sealed.includes('top secret'));
    assert.match(sealed, /^pc1\.old\./);
    assert.equal(sealer.openString(sealed, 'clients:c1:secret'), 'top secret value');
    assert.notEqual(
      sealer.seal('top secret value', 'clients:c1:secret'),
      sealed,
      'fresh data key and IV each time',
    );
  });

  test('a value moved to another row, tampered with or sealed by an unknown key does not open', () => {
    const sealer = createSealer([old]);
    const sealed = sealer.seal('x', 'clients:c1:secret');
    assert.throws(() => sealer.open(sealed, 'clients:c2:secret'), SealedValueError);
    const parts = sealed.split('.');
    const data = Buffer.from(parts[3]!, 'base64url');
    data[14]! ^= 1;
    parts[3] = data.toString('base64url');
    assert.throws(() => sealer.open(parts.join('.'), 'clients:c1:secret'), SealedValueError);
    assert.throws(() => createSealer([fresh]).open(sealed, 'clients:c1:secret'), {
      message: 'sealed with key id "old", which is not in ENCRYPTION_KEYS',
    });
  });

  test('rotation: the newest key seals, older ones still open, rewrap moves values to the newest', () => {
    const before = createSealer([old]).seal('payload', 'ctx');
    const ring = createSealer([fresh, old]);
    assert.equal(ring.activeKeyId, 'new');
    assert.equal(ring.openString(before, 'ctx'), 'payload');
    const moved = ring.rewrap(before);
    assert.equal(ring.keyIdOf(moved), 'new');
    assert.equal(moved.split('.')[3], before.split('.')[3], 'the data itself is not re-encrypted');
    assert.equal(createSealer([fresh]).openString(moved, 'ctx'), 'payload');
  });
});
