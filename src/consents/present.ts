// How a detail reads on a page: amounts formatted for the currency and language (Intl, from the
// decimal string itself: never a float), account numbers partly masked. Pure.
import type { AuthorizationDetail } from './detailTypes.ts';

export type PresentedDetail =
  | {
      kind: 'payment';
      /** Intl-formatted, e.g. "€1,250.00". */
      amount: string;
      payee: string;
      /** Masked, e.g. "DE89 •••• 3000". */
      payeeAccount: string;
      payerAccount?: string;
      reference?: string;
    }
  | {
      kind: 'accounts';
      /** Masked account numbers, or ['All your accounts']. */
      accounts: string[];
      access: ('balances' | 'transactions' | 'details')[];
      /** Intl date. */
      until: string;
    };

export const ALL_ACCOUNTS = 'All your accounts';
const DOTS = '••••';

type Account = { iban?: string; schemeName?: string; identification?: string };

/** Keeps the country and check digits and the last four characters: "DE89 •••• 3000". */
export function maskAccount(account: Account): string {
  if (account.iban) return `${account.iban.slice(0, 4)} ${DOTS} ${account.iban.slice(-4)}`;
  const id = account.identification ?? '';
  const tail = id.length > 4 ? `${DOTS} ${id.slice(-4)}` : DOTS;
  return account.schemeName ? `${account.schemeName} ${tail}` : tail;
}

/** The locale if Intl knows it, else English (a bad ui_locales never breaks the page). */
function usableLocale(locale: string): string {
  try {
    return Intl.getCanonicalLocales(locale)[0] ?? 'en';
  } catch {
    return 'en';
  }
}

export function presentDetail(detail: AuthorizationDetail, locale: string): PresentedDetail {
  const lang = usableLocale(locale);
  if (detail.type === 'payment_initiation') {
    const amount = detail.instructedAmount as { currency: string; amount: string };
    // NumberFormat.format takes the decimal string as it is (exact on Node 20+).
    const format = new Intl.NumberFormat(lang, { style: 'currency', currency: amount.currency });
    const presented: PresentedDetail = {
      kind: 'payment',
      amount: format.format(amount.amount as `${number}`),
      payee: detail.creditorName as string,
      payeeAccount: maskAccount(detail.creditorAccount as Account),
    };
    if (detail.debtorAccount) presented.payerAccount = maskAccount(detail.debtorAccount as Account);
    if (typeof detail.remittanceInformation === 'string')
      presented.reference = detail.remittanceInformation;
    return presented;
  }
  if (detail.type === 'account_information') {
    const accounts = detail.accounts;
    return {
      kind: 'accounts',
      accounts: Array.isArray(accounts) ? (accounts as Account[]).map(maskAccount) : [ALL_ACCOUNTS],
      access: detail.access as ('balances' | 'transactions' | 'details')[],
      until: new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone: 'UTC' }).format(
        new Date(detail.expirationDateTime as string),
      ),
    };
  }
  throw new TypeError(`no presentation for authorization details type '${detail.type}'`);
}
