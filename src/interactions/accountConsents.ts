// The account page's consents: the payments and account access a person authorised, in the words
// of the consent page, with revocation of those still authorised (which ends their grant's tokens).
import type Koa from 'koa';
import type { Consent } from '../consents/consents.ts';
import { ConsentStateError } from '../consents/consents.ts';
import { ALL_ACCOUNTS, presentDetail } from '../consents/present.ts';
import { type Revoked, revokeConsent, revokedDetails } from '../consents/revocation.ts';
import { DomainError } from '../errors.ts';
import { PageError } from '../http/pageError.ts';
import type { Translator } from '../i18n/translator.ts';
import type { BrowserSession } from '../oidc/bridge.ts';
import { CsrfError, type InteractionDeps, requestOrigin } from './context.ts';
import { readForm } from './forms.ts';

/** One line per detail, as a person reads it, in the page's language. */
function describe(consent: Consent, tr: Translator): string[] {
  return consent.details.map((detail) => {
    const shown = presentDetail(detail, tr.tag);
    if (shown.kind === 'payment')
      return tr.t(shown.reference ? 'account.consents.paymentRef' : 'account.consents.payment', {
        amount: shown.amount,
        payee: shown.payee,
        account: shown.payeeAccount,
        reference: shown.reference,
      });
    const access = tr.list(shown.access.map((a) => tr.t(`consent.access.${a}`)));
    const which =
      shown.accounts.length === 1 && shown.accounts[0] === ALL_ACCOUNTS
        ? tr.t('account.consents.allAccounts')
        : tr.list(shown.accounts);
    return tr.t('account.consents.access', { access, accounts: which, until: shown.until });
  });
}

export function accountConsents(deps: InteractionDeps) {
  const { consents, csrf, bridge } = deps;

  return {
    /** The rows of the account page: every consent but those never authorised, newest first. */
    async view(ctx: Koa.Context, session: BrowserSession) {
      const tr = deps.views.translatorFor(ctx);
      const rows = [];
      for (const c of await consents.list({ accountId: session.accountId, limit: 100 })) {
        if (c.status === 'awaiting_authorisation' || c.status === 'rejected') continue;
        const client = await bridge.client(c.clientId);
        rows.push({
          id: c.id,
          clientName: client?.name ?? c.clientId,
          lines: describe(c, tr),
          status: c.status,
          statusText: tr.t(`consent.status.${c.status}`),
          since: (c.authorisedAt ?? c.createdAt).toISOString().slice(0, 10),
          revocable: c.status === 'authorised',
        });
      }
      return rows;
    },

    /** POST /account/consents/:id/revoke: the person's own authorised consent, and its grant. */
    async revoke(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const session = await bridge.session(ctx);
      if (!session || !csrf.verify(session.uid, 'account', form._csrf)) throw new CsrfError();
      const id = String(ctx.params.id);
      const found = await consents.find(id);
      // Someone else's consent is as unknown as one that does not exist.
      if (!found || found.accountId !== session.accountId)
        throw new PageError(404, 'account.consents.notFound', 'error.notFoundTitle');
      if (found.status !== 'authorised') {
        ctx.status = 303;
        ctx.redirect('/account?notice=consent-inactive');
        return;
      }
      let revoked: Revoked;
      try {
        revoked = await revokeConsent(
          deps,
          id,
          { type: 'user', id: session.accountId },
          session.accountId,
        );
      } catch (err) {
        if (err instanceof ConsentStateError || err instanceof DomainError) {
          ctx.status = 303;
          ctx.redirect('/account?notice=consent-inactive');
          return;
        }
        throw err;
      }
      await deps.record({
        actor: { type: 'user', id: session.accountId },
        action: 'consent.revoked',
        target: { type: 'consent', id: revoked.consent.id },
        outcome: 'success',
        ...requestOrigin(ctx),
        details: revokedDetails(revoked),
      });
      ctx.status = 303;
      ctx.redirect('/account?notice=consent-revoked');
    },
  };
}
