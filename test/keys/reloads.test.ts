// Reloads of the key ring (from the poll and from change notices) never overlap: a read of the
// ring made before a revocation must not land after one made since, bringing the key back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { oneAtATime } from '../../src/jobs.ts';

describe('one reload at a time', () => {
  test('calls during a run share one run that starts after it; runs never overlap', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    const reload = oneAtATime(async () => {
      const run = ++runs;
      active++;
      most = Math.max(most, active);
      await sleep(30);
      active--;
      return run;
    });
    const first = reload();
    await sleep(5);
    const during = [reload(), reload(), reload()];
    assert.deepEqual(await Promise.all([first, ...during]), [1, 2, 2, 2]);
    assert.equal(most, 1, 'never two at once');
    assert.equal(await reload(), 3, 'a call once all is done starts a new run');
  });

  test('a failed run does not stop the next one', async () => {
    let runs = 0;
    const reload = oneAtATime(async () => {
      runs++;
      await sleep(10);
      if (runs === 1) throw new Error('database unreachable');
      return runs;
    });
    const failed = reload();
    const next = reload();
    await assert.rejects(failed, /database unreachable/);
    assert.equal(await next, 2);
  });
});
