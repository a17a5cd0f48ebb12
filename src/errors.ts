// Typed domain errors. Domain code throws these; each web layer (and the CLI) maps them to a
// response in one place. Messages are safe to show: they never contain secrets.
export class DomainError extends Error {
  /** How a page says it in the person's language: a catalogue key (src/i18n/locales) and parameters. */
  page?: { key: string; params?: Record<string, string | number> };
  constructor(
    readonly code: 'invalid_input' | 'not_found' | 'conflict' | 'forbidden',
    message: string,
    /** The field the problem is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string, field?: string) =>
  new DomainError('invalid_input', message, field);
export const notFound = (message: string) => new DomainError('not_found', message);
export const conflict = (message: string, field?: string) =>
  new DomainError('conflict', message, field);
