// One admin API route as data: method, path, scope, the zod schemas of its path parameters,
// query, body and response, a summary, and its handler. The Koa router and the OpenAPI document
// are both built from a list of these, so neither can mention a route the other lacks.
import type { z } from 'zod';
import type { AuditAction } from '../audit/kinds.ts';
import type { AdminScope } from './adminApi.ts';
import type { Principal } from './auth.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a handler gets: validated input, the caller, and a way to record what it changed. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Undefined only on public routes. */
  principal: Principal;
  /** Records a change by this caller in the audit log (after it is made). */
  audit(
    action: AuditAction,
    target: { type: string; id: string } | undefined,
    details?: Record<string, unknown>,
  ): Promise<void>;
}

export interface RouteSpec<
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  R extends z.ZodType,
> {
  method: Method;
  /** Path below /admin/v1, OpenAPI style: /clients/{clientId}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** The scope a token needs; undefined for a public route. */
  scope: AdminScope | undefined;
  params?: P;
  query?: Q;
  body?: B;
  /** The response body schema; undefined for 204 No Content. */
  response?: R;
  /** Success status (default 200, or 204 without a response schema). */
  status?: number;
  /** Documented error statuses besides 400/401/403 (e.g. 404, 409). */
  errors?: number[];
  handler(
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ): Promise<z.input<R> | undefined>;
}

export type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;

/** Keeps a route's types tied to its schemas; returns it as a plain table entry. */
export function defineRoute<
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
  R extends z.ZodType,
>(spec: RouteSpec<P, Q, B, R>): AnyRoute {
  return spec as unknown as AnyRoute;
}

export const iso = (d: Date) => d.toISOString();
export const isoOrNull = (d: Date | null | undefined) => (d ? d.toISOString() : null);
