// SimpleWebAuthn, loaded on first use: its module graph takes ~0.3 s to load, and a server's
// first passkey may come hours after it starts (issue 14's start-up target).
type SimpleWebAuthn = typeof import('@simplewebauthn/server');

let loading: Promise<SimpleWebAuthn> | undefined;

/** The library, imported once by whichever call needs it first. */
export const simpleWebAuthn = (): Promise<SimpleWebAuthn> =>
  (loading ??= import('@simplewebauthn/server'));
