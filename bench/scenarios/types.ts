// A scenario: what it measures, the target it must reach, and for each target the seeding it
// needs and the request generator that loads it. Scenarios 5-7 plug in as further modules.
import type { Knex } from 'knex';
import type { Scrape } from '../dbWork.ts';
import type { BenchOptions } from '../options.ts';
import type { GeneratorRef } from '../requests/types.ts';
import type { Target, TargetName } from '../targets/types.ts';
import type { World } from '../world.ts';

export interface ScenarioEnv {
  world: World;
  options: BenchOptions;
  /** Prints a progress line. */
  say(message: string): void;
  /** Per-run memo (e.g. a token pool seeded once per target and reused by the growth reruns). */
  memo: Map<string, unknown>;
  /** This run's directory (logs, profiles, generator state files). */
  runDir: string;
  /** Pids of the PostgreSQL backends serving Portcullis (CPU accounting). */
  backendPids: () => Promise<number[]>;
  /** Portcullis' database work counters and memory, read around each of its rounds. */
  dbWork?: () => Promise<Scrape>;
}

export type Goal =
  | {
      /** Minimum ratio of Portcullis to the reference. */
      ratio: number;
      of: 'baseline' | 'empty database' | 'argon2 ceiling';
    }
  /** No reference to compare with (what bare oidc-provider cannot do); the table says why. */
  | { of: 'none'; why: string };

export interface Scenario {
  number: number;
  title: string;
  /** One sentence: what is measured and why. */
  measures: string;
  goal: Goal;
  /**
   * Targets it runs on (default: Portcullis, the baseline and Koa). A login scenario runs on
   * Portcullis only and is compared with `ceiling` instead of the baseline.
   */
  targets?: TargetName[];
  /** Seeds what the scenario needs on `target` and returns the generator that loads it. */
  prepare(env: ScenarioEnv, target: Target): Promise<GeneratorRef>;
  /**
   * The reference throughput in operations per second, measured in the same run (for logins:
   * Argon2 verifications per second on all cores with the configured parameters).
   */
  ceiling?(env: ScenarioEnv): Promise<number>;
}

/** A scenario that changes the database and then reruns others (growth). */
export interface GrowthScenario {
  number: number;
  title: string;
  measures: string;
  goal: Goal;
  /** Scenario numbers rerun after growing, compared with their first run. */
  reruns: number[];
  grow(env: ScenarioEnv, knex: Knex): Promise<Record<string, unknown>>;
}
