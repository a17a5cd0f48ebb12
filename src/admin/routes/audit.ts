// /audit-events: the audit log, filtered by time, actor, action and target, a page at a time
// (keyset pagination on the event number). Read-only.
import type { AuditEvent as AuditEventModel } from '../../audit/log.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso } from '../route.ts';
import { AuditPage, AuditQuery } from '../schemas.ts';

export const auditEventJson = (e: AuditEventModel) => ({ ...e, occurredAt: iso(e.occurredAt) });

export function auditRoutes({ services }: AdminContext): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/audit-events',
      operationId: 'queryAuditEvents',
      summary: 'Audit events, oldest first; pass next as after for the following page',
      tag: 'Audit',
      scope: 'admin:audit',
      query: AuditQuery,
      response: AuditPage,
      async handler({ query }) {
        const { since, until, ...rest } = query;
        const { events, next } = await services.audit.query({
          ...rest,
          ...(since ? { since: new Date(since) } : {}),
          ...(until ? { until: new Date(until) } : {}),
        });
        return { events: events.map(auditEventJson), next: next ?? null };
      },
    }),
  ];
}
