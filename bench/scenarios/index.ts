// Every scenario, by number (see bench/README.md).
import { ccJwt } from './ccJwt.ts';
import { ccOpaque } from './ccOpaque.ts';
import { ccPrivateKeyJwt } from './ccPrivateKeyJwt.ts';
import { fapiToken } from './fapiToken.ts';
import { growth } from './growth.ts';
import { introspection } from './introspection.ts';
import { login, loginTotp } from './login.ts';
import { refresh } from './refresh.ts';
import type { GrowthScenario, Scenario } from './types.ts';

export const SCENARIOS: Scenario[] = [
  ccJwt,
  ccPrivateKeyJwt,
  ccOpaque,
  introspection,
  refresh,
  login,
  loginTotp,
  fapiToken,
];
export const GROWTH: GrowthScenario = growth;
export const AVAILABLE = [...SCENARIOS.map((s) => s.number), GROWTH.number];
