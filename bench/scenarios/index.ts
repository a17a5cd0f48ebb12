// The scenarios built so far, by number. Scenarios 5-7 (refresh rotation, login, login + TOTP)
// are added here once accounts and MFA exist (see bench/README.md).
import { ccJwt } from './ccJwt.ts';
import { ccOpaque } from './ccOpaque.ts';
import { ccPrivateKeyJwt } from './ccPrivateKeyJwt.ts';
import { growth } from './growth.ts';
import { introspection } from './introspection.ts';
import type { GrowthScenario, Scenario } from './types.ts';

export const SCENARIOS: Scenario[] = [ccJwt, ccPrivateKeyJwt, ccOpaque, introspection];
export const GROWTH: GrowthScenario = growth;
export const AVAILABLE = [...SCENARIOS.map((s) => s.number), GROWTH.number];
