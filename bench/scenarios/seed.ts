// Seeding over HTTP, identical for every target: opaque access tokens issued by the target's own
// token endpoint (so each target stores them its own way), a few requests at a time.
import type { Target } from '../targets/types.ts';
import { basicAuthorization, type World } from '../world.ts';

export async function issueOpaqueTokens(
  target: Target,
  world: World,
  resource: string,
  count: number,
  concurrency = 16,
): Promise<string[]> {
  const tokens: string[] = [];
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource }).toString();
  const headers = {
    authorization: basicAuthorization(world),
    'content-type': 'application/x-www-form-urlencoded',
  };
  let issued = 0;
  async function worker(): Promise<void> {
    while (issued < count) {
      issued++;
      const res = await fetch(`${target.issuer}/token`, { method: 'POST', headers, body });
      const json = (await res.json()) as { access_token?: string; error_description?: string };
      if (res.status !== 200 || !json.access_token)
        throw new Error(
          `${target.name}: token request failed (${res.status} ${JSON.stringify(json)})`,
        );
      tokens.push(json.access_token);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tokens;
}
