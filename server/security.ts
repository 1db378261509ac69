// Who may talk to the server: security headers, a Host allow-list, same-origin checks and the optional access token.
import crypto from 'node:crypto';
import os from 'node:os';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './http-error.js';

export interface SecurityOptions {
  /** The address the server listens on (`127.0.0.1`, `0.0.0.0`, a LAN address or name). */
  host: string;
  /** The port it listens on: names the token cookie, since browsers share cookies across the ports of a host. */
  port: number;
  /** More names the Host header may carry (a DNS name or reverse proxy in front of the server). */
  allowedHosts?: readonly string[];
  /** Every request but /api/health must carry this token; null: no token (loopback, or explicitly disabled). */
  token: string | null;
}

/** The app's own policy: scripts and styles from the server only; nothing may frame it or be framed by it. */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Charts set inline style attributes on their tooltips; scripts stay strictly same-origin.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Reports viewed in a tab are static documents (inline SVG and CSS, no scripts): they get nothing else. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', APP_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The token may sit in the address bar for a moment: never send a URL to another origin. (Same-origin referrers
  // stay, so that browsers send a real Origin, not "null", with the app's own form posts.)
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  next();
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

export function isLoopback(host: string): boolean {
  const h = normalizeHostName(host);
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** A host name as it compares: lower case, without brackets around IPv6 or a trailing dot. */
function normalizeHostName(h: string): string {
  return h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** The host name of a Host header (`name:port`, `[v6]:port`), or null when it is not one. */
export function hostHeaderName(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+)(?::(\d{1,5}))?$/.exec(header.trim());
  return m ? normalizeHostName(m[1]) : null;
}

/**
 * Names under which clients may reach the server. A DNS-rebinding page reaches it under its own name, which is not
 * on the list. On a wildcard address every interface address and the machine's name are allowed.
 */
export function allowedHostNames(opts: Pick<SecurityOptions, 'host' | 'allowedHosts'>): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  const host = normalizeHostName(opts.host);
  if (WILDCARD.has(host)) {
    names.add(normalizeHostName(os.hostname()));
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) names.add(normalizeHostName(a.address));
  } else {
    names.add(host);
  }
  for (const h of opts.allowedHosts ?? []) names.add(normalizeHostName(h));
  return names;
}

function hostCheck(allowed: Set<string>) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const name = hostHeaderName(req.headers.host);
    if (name === null) return next(new HttpError(400, 'host: the request has no valid Host header', 'host'));
    if (!allowed.has(name) && !isLoopback(name)) {
      return next(new HttpError(403, `host: "${name}" is not a name of this server (allowed: ${[...allowed].join(', ')}; add more with --allowed-host)`, 'host'));
    }
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses what another site's page can make a browser send: any state-changing or compute-starting request
 * (every non-GET) that is not same-origin, and API reads embedded by another site (`<img>`, `<script>`). Clients that
 * are not browsers send neither Origin nor Sec-Fetch-Site and pass.
 */
function sameOriginCheck(req: Request, _res: Response, next: NextFunction): void {
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  if (!SAFE_METHODS.has(req.method)) {
    // Either header saying "another site" refuses: a foreign Origin wins over any Sec-Fetch-Site (a proxy or an old
    // browser may add or drop one of them, and neither may vouch for the other).
    if (origin !== undefined && !sameHost(origin, req.headers.host)) {
      return next(new HttpError(403, `origin: ${req.method} from ${origin} refused; only this server's own pages may change or start anything`, 'origin'));
    }
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return next(new HttpError(403, `origin: cross-site ${req.method} refused (Sec-Fetch-Site: ${site}); use the workbench's own page or a script`, 'origin'));
    }
  } else if (req.path.startsWith('/api/') && site === 'cross-site' && req.headers['sec-fetch-mode'] !== 'navigate') {
    return next(new HttpError(403, 'origin: another site may not embed or read the API', 'origin'));
  }
  next();
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const o = new URL(origin);
    return (o.protocol === 'http:' || o.protocol === 'https:') && o.host === new URL(`${o.protocol}//${host}`).host;
  } catch {
    return false; // includes the opaque origin "null" (sandboxed frames, file: pages)
  }
}

export function tokenCookieName(port: number): string {
  return `precache-lens-token-${port}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(given: string, token: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/** A fresh random access token (as Jupyter prints one), URL-safe. */
export function generateToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/**
 * Requires the token from `Authorization: Bearer <token>`, a `?token=` query or the cookie a `?token=` visit sets
 * (HttpOnly, SameSite=Strict). A page opened with `?token=` is redirected to the same URL without it.
 */
function tokenCheck(token: string, port: number) {
  const cookie = tokenCookieName(port);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.path === '/api/health') return next();
    const auth = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    const fromCookie = cookieValue(req.headers.cookie, cookie);
    if (auth !== undefined && sameSecret(auth, token)) return next();
    if (query !== undefined && sameSecret(query, token)) {
      res.setHeader('Set-Cookie', `${cookie}=${token}; Path=/; HttpOnly; SameSite=Strict`);
      if (req.method === 'GET' && !req.path.startsWith('/api/')) {
        const url = new URL(req.originalUrl, 'http://x');
        url.searchParams.delete('token');
        res.redirect(302, `${url.pathname}${url.search}`);
        return;
      }
      return next();
    }
    if (fromCookie !== undefined && sameSecret(fromCookie, token)) return next();
    const why = auth !== undefined || query !== undefined || fromCookie !== undefined ? 'the access token is wrong' : 'this server needs its access token';
    if (req.path.startsWith('/api/')) {
      return next(new HttpError(401, `token: ${why}; send Authorization: Bearer <token>, or open the URL with ?token= that the server printed when it started`, 'token'));
    }
    res.status(401).type('html').send(TOKEN_PAGE(why));
  };
}

const TOKEN_PAGE = (why: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Precache Lens: access token needed</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem"><h1>Access token needed</h1>
<p>${why === 'the access token is wrong' ? 'The access token is wrong.' : 'This server listens beyond this machine, so it needs its access token.'}
Open the URL with <code>?token=…</code> that the server printed when it started.</p></body></html>`;

/** The request guards in the order they apply: headers, Host, token, then same-origin. */
export function securityMiddleware(opts: SecurityOptions) {
  const allowed = allowedHostNames(opts);
  return [securityHeaders, hostCheck(allowed), ...(opts.token ? [tokenCheck(opts.token, opts.port)] : []), sameOriginCheck];
}
