// A running target of the bench: a server process the load generator is pointed at.
import type { ServerProcess } from '../processes.ts';

export type TargetName = 'portcullis' | 'baseline' | 'koa';

export interface Target {
  name: TargetName;
  server: ServerProcess;
  /** The issuer identifier (client assertion audience); the base URL for Koa. */
  issuer: string;
  /** Its Prometheus metrics (Portcullis: a METRICS_PORT listener on loopback). */
  metricsUrl?: string;
}
