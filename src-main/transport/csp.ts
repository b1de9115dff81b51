/**
 * The renderer's Content-Security-Policy, one definition for both transports: Electron adds nothing
 * to `connect-src` (IPC is not a network request); browser mode adds its own WebSocket origins.
 * No inline or eval'd script anywhere; inline styles stay allowed (Svelte transitions set them).
 */
export function contentSecurityPolicy(extraConnectSrc: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src ${["'self'", ...extraConnectSrc].join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
