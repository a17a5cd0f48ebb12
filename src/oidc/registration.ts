// Dynamic client registration (RFC 7591/7592) with initial access tokens that carry what a
// registered client may access; a policy on every token applies the admin API's client rules.
import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { DomainError, invalid } from '../errors.ts';
import { hashId } from './adapter.ts';
import type { ArtifactStore } from './artifactStore.ts';
import type { Catalogue } from './catalogue.ts';
import { type AuthMethod, checkApiAccess, clientMetadata, SECRET_METHODS } from './clientRules.ts';
import type { ProfileName, ServerProfileSetting } from './profiles.ts';
import {
  checkAgainstMetadata,
  checkFields,
  type Decided,
  registrationInput,
  SNAKE,
} from './registrationRequest.ts';

export const REGISTRATION_POLICY = 'portcullis';
export const MIN_ALLOWANCE_SECONDS = 60;
export const MAX_ALLOWANCE_SECONDS = 30 * 24 * 3600;

export interface AllowanceInput {
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel?: 1 | 2 | 3 | undefined;
  expiresInSeconds: number;
  singleUse: boolean;
  createdBy: string;
  /** `fapi2`: every client registered with the token is a FAPI 2.0 client. */
  profile?: ProfileName | undefined;
}

/**
 * What a client registered with an initial access token may access: stored in the artefact
 * store beside its token, under the same key (the SHA-256 of the token), so it expires and is
 * swept with it and no usable token is stored.
 */
interface AllowancePayload {
  id: string;
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel: 1 | 2 | 3;
  singleUse: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** Absent in tokens issued before profiles existed: the default. */
  profile?: ProfileName;
}

export interface Allowance {
  id: string;
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel: 1 | 2 | 3;
  singleUse: boolean;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  profile: ProfileName;
}

const toAllowance = (p: AllowancePayload): Allowance => ({
  ...p,
  profile: p.profile ?? 'default',
  createdAt: new Date(p.createdAt),
  expiresAt: new Date(p.expiresAt),
});

export interface RegistrationDeps {
  artifacts: ArtifactStore;
  clock: Clock;
  catalogue: Catalogue;
  idTokenAlg: string;
  /** Every algorithm of the key ring, the default first. */
  ringAlgs?: readonly string[] | undefined;
  /** FAPI_PROFILE: '2.0' makes every registered client fapi2. */
  serverProfile?: ServerProfileSetting;
  /** The provider serving requests now (it is rebuilt when the key ring changes). */
  provider: () => Provider;
}

export function createRegistration(deps: RegistrationDeps) {
  const { clock, catalogue } = deps;
  const store = deps.artifacts.allowances;
  /** The allowance each registration request used, for its audit event. */
  const used = new WeakMap<object, string>();

  /** The metadata a registration request is stored as, by the same rules as the admin API. */
  async function registeredMetadata(
    body: Record<string, unknown>,
    decided: Decided,
  ): Promise<Record<string, unknown>> {
    const input = registrationInput(body, decided);
    let metadata: Record<string, unknown>;
    try {
      metadata = await clientMetadata(input, {
        catalogue,
        idTokenAlg: deps.idTokenAlg,
        ringAlgs: deps.ringAlgs,
        serverProfile: deps.serverProfile,
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      throw new errors.InvalidClientMetadata(
        `${SNAKE[err.field ?? ''] ?? 'client metadata'}: ${err.message}`,
      );
    }
    checkAgainstMetadata(body, metadata, decided);
    return metadata;
  }

  /** The registration policy: runs at registration (RFC 7591) and at every update (RFC 7592). */
  async function policy(ctx: KoaContextWithOIDC, properties: Record<string, unknown>) {
    const iat = ctx.oidc.entities.InitialAccessToken as { jti?: string } | undefined;
    const body = (ctx.oidc.body ?? {}) as Record<string, unknown>;
    let allowance: AllowancePayload | undefined;
    let decided: Decided;
    let current: Record<string, unknown> | undefined;
    if (iat?.jti) {
      allowance = await store.find<AllowancePayload>(hashId(iat.jti));
      if (!allowance) throw new errors.InvalidToken('initial access token not found');
      decided = {
        api_access: allowance.apiAccess,
        first_party: false,
        min_assurance_level: allowance.minAssuranceLevel,
        ...(allowance.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
    } else {
      const client = ctx.oidc.client as unknown as Record<string, unknown> | undefined;
      if (!client) throw new errors.InvalidToken('client not found');
      current = (client as { metadata(): Record<string, unknown> }).metadata();
      decided = {
        api_access: (current.api_access ?? {}) as Record<string, string[]>,
        first_party: current.first_party === true,
        min_assurance_level: (current.min_assurance_level ?? 1) as 1 | 2 | 3,
        rate_limit: current.rate_limit,
        ...(current.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
    }
    checkFields(body, decided, current);
    const metadata = await registeredMetadata(body, decided);

    const kept: Record<string, unknown> = {};
    for (const key of ['client_id', 'client_id_issued_at']) kept[key] = properties[key];
    if (SECRET_METHODS.has(metadata.token_endpoint_auth_method as AuthMethod)) {
      kept.client_secret = properties.client_secret;
      kept.client_secret_expires_at = properties.client_secret_expires_at;
    }
    for (const key of Object.keys(properties)) delete properties[key];
    Object.assign(properties, kept, metadata);

    if (allowance) {
      if (allowance.singleUse) {
        // Any validation error surfaces before the token is spent; then exactly one caller wins.
        await ctx.oidc.provider.Client.validate(properties as never);
        if (!(await store.take(hashId(iat!.jti!))))
          throw new errors.InvalidToken('initial access token was already used');
      }
      used.set(ctx, allowance.id);
    }
  }

  return {
    policies: { [REGISTRATION_POLICY]: policy },

    /** Issues an initial access token; the token is returned once and stored only hashed. */
    async issue(input: AllowanceInput): Promise<{ token: string; allowance: Allowance }> {
      const seconds = input.expiresInSeconds;
      if (
        !Number.isInteger(seconds) ||
        seconds < MIN_ALLOWANCE_SECONDS ||
        seconds > MAX_ALLOWANCE_SECONDS
      )
        throw invalid(
          `expiresIn must be a whole number of seconds from ${MIN_ALLOWANCE_SECONDS} to ${MAX_ALLOWANCE_SECONDS}`,
          'expiresIn',
        );
      const apiAccess = await checkApiAccess(catalogue, input.apiAccess);
      const level = input.minAssuranceLevel ?? 1;
      const now = clock.now();
      const provider = deps.provider();
      const token = await new provider.InitialAccessToken({
        expiresIn: seconds,
        policies: [REGISTRATION_POLICY],
      }).save();
      const payload: AllowancePayload = {
        id: randomUUID(),
        description: input.description.trim(),
        apiAccess,
        minAssuranceLevel: level,
        singleUse: input.singleUse,
        createdBy: input.createdBy,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + seconds * 1000).toISOString(),
        ...(input.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
      await store.insert(hashId(token), payload, new Date(payload.expiresAt));
      return { token, allowance: toAllowance(payload) };
    },

    /** Initial access tokens not yet expired (or used, when single use), without their values. */
    list: async (): Promise<Allowance[]> => (await store.list<AllowancePayload>()).map(toAllowance),

    /** Revokes an initial access token by its id; false when there is none. */
    revoke: (id: string): Promise<boolean> => store.revoke(id),

    /** The id of the initial access token a registration request used, if any. */
    allowanceOf: (ctx: object): string | undefined => used.get(ctx),
  };
}

export type Registration = ReturnType<typeof createRegistration>;
