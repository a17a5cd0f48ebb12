// The ceiling of the login scenarios: Argon2id verifications per second on all cores with
// Portcullis' parameters and its own hasher (same concurrency limit), measured in the bench
// process while the servers are idle. A login spends exactly one verification.
import { availableParallelism } from 'node:os';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import type { ScenarioEnv } from './types.ts';

export async function argon2Ceiling(env: ScenarioEnv): Promise<number> {
  const memo = env.memo.get('argon2-ceiling') as number | undefined;
  if (memo !== undefined) return memo;
  const seconds = env.options.seconds;
  env.say(`measuring the Argon2 ceiling (${seconds}s, ${availableParallelism()} cores)`);
  const hasher = createPasswordHasher({ params: env.world.argon2 });
  const password = 'argon2-ceiling-password';
  const hash = await hasher.hash(password);
  const until = Date.now() + seconds * 1000;
  const started = Date.now();
  let done = 0;
  // Twice as many callers as cores keep the hasher's queue full, as concurrent logins do.
  await Promise.all(
    Array.from({ length: availableParallelism() * 2 }, async () => {
      while (Date.now() < until) {
        if (!(await hasher.verify(hash, password))) throw new Error('Argon2 verification failed');
        done++;
      }
    }),
  );
  const perSecond = done / ((Date.now() - started) / 1000);
  env.say(`  ${perSecond.toFixed(1)} Argon2 verifications/s`);
  env.memo.set('argon2-ceiling', perSecond);
  return perSecond;
}
