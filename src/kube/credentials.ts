import { readFileSync } from 'node:fs';

/** What one request presents to the API server: an Authorization header, a client certificate, or both. */
export interface Credential {
  /** The whole header value: `Bearer <token>` or `Basic <base64>`. */
  authorization?: string;
  /** PEM client certificate and its key, presented in the TLS handshake. */
  cert?: string;
  key?: string;
}

/** Where a client gets the credential for each request. */
export interface Credentials {
  /** The credential to send with the next request. Rejects when it cannot be obtained (a failing exec plugin). */
  get(): Promise<Credential>;
  /** The server answered 401 to a request sent with `used`; a source that can fetch a fresh one does so next time. */
  rejected(used: Credential): void;
}

/** How often a token file is read again: projected service-account tokens rotate, and client-go re-reads once a minute. */
export const TOKEN_FILE_REFRESH_MS = 60_000;

/** Credentials that never change: a static token, a username and password, a client certificate, or nothing. */
export function fixedCredentials(credential: Credential): Credentials {
  const promise = Promise.resolve(credential);
  return { get: () => promise, rejected: () => undefined };
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export interface TokenFileOptions {
  /** Re-read the file when the last read is older than this (default TOKEN_FILE_REFRESH_MS). */
  refreshMs?: number;
  /** Clock, injectable so tests need not wait a minute. */
  now?: () => number;
}

/** Reads a token file: whitespace around the token is not part of it, and an empty file is an error. */
export function readTokenFile(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (token === '') throw new Error(`the token file ${path} is empty`);
  return token;
}

/**
 * A bearer token read from a file, re-read every `refreshMs`. The first read happens here, so a
 * missing file fails at start-up; a later failed read keeps the last good token, because the file
 * is being replaced (kubelet swaps projected tokens through a symlink) more often than it is gone.
 * `base` adds a client certificate from the same user entry.
 */
export function tokenFileCredentials(path: string, options: TokenFileOptions = {}, base: Credential = {}): Credentials {
  const refreshMs = options.refreshMs ?? TOKEN_FILE_REFRESH_MS;
  const now = options.now ?? Date.now;
  let token = readTokenFile(path);
  let readAt = now();
  let current: Credential = { ...base, authorization: bearer(token) };
  return {
    get() {
      // A synchronous read of a few hundred bytes once a period costs less than making every request wait on a promise chain.
      if (now() - readAt >= refreshMs) {
        readAt = now();
        try {
          const fresh = readTokenFile(path);
          if (fresh !== token) {
            token = fresh;
            current = { ...base, authorization: bearer(token) };
          }
        } catch {
          // Keep the last good token (see above); the next period tries again.
        }
      }
      return Promise.resolve(current);
    },
    rejected: () => undefined,
  };
}
