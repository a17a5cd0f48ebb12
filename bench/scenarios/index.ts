// Every scenario, by number (see bench/README.md).
import { ccJwt } from './ccJwt.ts';
import { ccOpaque } from './ccOpaque.ts';
import { ccPrivateKeyJwt } from './ccPrivateKeyJwt.ts';
import { fapiToken } from './fapiToken.ts';
import { growth } from './growth.ts';
import { introspection } from './introspection.ts';
import { login, loginTotp } from './login.ts';
import { payment } from './payment.ts';
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
  payment,
];
export const GROWTH: GrowthScenario = growth;
export const AVAILABLE = [...SCENARIOS.map((s) => s.number), GROWTH.number];
/** The payment consent scenario: its people with passkeys are seeded only when it runs. */
export const PAYMENT_SCENARIO = payment.number;
