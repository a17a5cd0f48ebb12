// The protocol library's grant helpers (pinned oidc-provider 9.13, which has no "exports" map):
// untyped here, typed narrowly where they are used (senderBinding.ts).
declare module 'oidc-provider/lib/helpers/grant_common.js';
declare module 'oidc-provider/lib/helpers/grants.js';
