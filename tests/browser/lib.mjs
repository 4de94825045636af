// The browser harness: Debian chromium through playwright-core, a page tracker that
// records console errors, 5xx answers and requests to other origins, an axe-core pass,
// and full-page screenshots at the two widths of issue #12 (1280 and 390 px).
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Required environment variable `name`, or a failure that says how to set it. */
export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    throw new Error(`environment variable ${name} is not set (crates/service/tests/browser_ui.rs sets it)`);
  }
  return v;
}

export const BASE = env('HLBRIDGE_UI_BASE').replace(/\/$/, '');
export const ORIGIN = new URL(BASE).origin;
export const ARTIFACTS = resolve(env('HLBRIDGE_ARTIFACTS', 'target/browser-artifacts'));
export const WIDTHS = [
  { name: '1280', width: 1280, height: 800 },
  { name: '390', width: 390, height: 844 },
];

/** A failed check: thrown, printed by ui.mjs with the step it happened in. */
export class Failure extends Error {
  constructor(message) {
    super(message);
    this.name = 'Failure';
  }
}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

export function log(...args) {
  console.log('[browser]', ...args);
}

export async function launch() {
  const executablePath = env('HLBRIDGE_CHROMIUM', '/usr/bin/chromium');
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

// Console errors allowed: none. An entry would be { url: RegExp, text: RegExp } with
// a comment naming the fix it waits for.
export const CONSOLE_ALLOW = [];

/**
 * A tracked page: every console error, every response >= 500 and every request to
 * another origin than the service is recorded; `tracker.assertClean()` fails on any.
 * `tracker.allow(origins)` admits top-level navigations to the given origins (the
 * emulators' consent pages); their own subresources are not the service's and are
 * not checked.
 */
export async function trackedPage(context) {
  const page = await context.newPage();
  const problems = [];
  const allowed = new Set();
  const where = () => page.url();
  const foreignPage = () => {
    try {
      return allowed.has(new URL(page.url()).origin);
    } catch {
      return false;
    }
  };
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !foreignPage()) {
      const at = msg.location()?.url;
      if (CONSOLE_ALLOW.some((a) => a.url.test(at ?? '') && a.text.test(msg.text()))) return;
      problems.push(`console error on ${where()}: ${msg.text()}${at && at !== where() ? ` (${at})` : ''}`);
    }
  });
  page.on('pageerror', (err) => {
    if (!foreignPage()) problems.push(`uncaught script error on ${where()}: ${err.message}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 500) problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
  });
  page.on('request', (req) => {
    let origin;
    try {
      origin = new URL(req.url()).origin;
    } catch {
      return;
    }
    if (origin === ORIGIN || req.url().startsWith('data:') || req.url().startsWith('about:')) return;
    const topNav = req.isNavigationRequest() && req.frame() === page.mainFrame();
    if (allowed.has(origin) && (topNav || foreignPage())) return;
    problems.push(`request to another origin from ${where()}: ${req.method()} ${req.url()}`);
  });
  const tracker = {
    problems,
    allow(origins) {
      for (const o of origins) allowed.add(new URL(o).origin);
    },
    assertClean(step) {
      if (problems.length) {
        throw new Failure(`${step}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      }
    },
  };
  return { page, tracker };
}

/** GET `path` of the service; fails unless it answers 200 with HTML. */
export async function visit(page, path, tracker) {
  const res = await page.goto(BASE + path, { waitUntil: 'load' });
  check(res, `GET ${path}: no response`);
  check(res.status() === 200, `GET ${path}: HTTP ${res.status()} (expected 200)`);
  const ct = res.headers()['content-type'] || '';
  check(ct.startsWith('text/html'), `GET ${path}: content-type ${ct} (expected text/html)`);
  if (tracker) tracker.assertClean(`GET ${path}`);
  return res;
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// axe rules allowed on a page: none. An entry would be
// { path: RegExp, rule: 'axe-rule-id' } with a comment naming the fix it waits for.
export const AXE_ALLOW = [];

/**
 * axe-core on the current page (its source is evaluated in the page, so the
 * service's CSP stays as it is); fails on a violation of impact serious or critical,
 * naming the rule and the targets. With `collect` (an array) the message is pushed
 * there instead, for a crawl to report every page at once.
 */
export async function axe(page, collect) {
  const path = new URL(page.url()).pathname;
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  const bad = result.filter(
    (v) =>
      (v.impact === 'serious' || v.impact === 'critical') &&
      !AXE_ALLOW.some((a) => a.rule === v.id && a.path.test(path)),
  );
  const message =
    `axe on ${path}: ${bad.length} serious/critical violation(s):\n  ` +
    bad.map((v) => `${v.id} (${v.impact}) ${v.help}: ${v.targets.slice(0, 5).join(' | ')}`).join('\n  ');
  if (collect) {
    if (bad.length) collect.push(message);
  } else {
    check(bad.length === 0, message);
  }
  return result;
}

/** Full-page screenshots at 1280x800 and 390x844 under ARTIFACTS; restores 1280. */
export async function shots(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'root';
  const files = [];
  for (const w of WIDTHS) {
    await page.setViewportSize({ width: w.width, height: w.height });
    const file = join(ARTIFACTS, `${safe}-${w.name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    files.push(file);
  }
  await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
  return files;
}

/** The session's CSRF token from the current page's forms (or its meta tag). */
export async function csrf(page) {
  const token = await page.evaluate(() => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) return meta.getAttribute('content');
    const input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : null;
  });
  check(token, `no CSRF token on ${page.url()}`);
  return token;
}

/**
 * The REST API with the browser's session (cookies shared with the page);
 * non-GET calls carry the CSRF token. Returns { status, body }.
 */
export async function api(page, method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = await csrf(page);
  const res = await page.request.fetch(BASE + path, {
    method,
    headers,
    data: body === undefined ? undefined : body,
    failOnStatusCode: false,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status(), body: json };
}

/** Poll `fn` until it returns a truthy value, or fail with `what` after `ms`. */
export async function until(what, fn, ms = 30000, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Failure(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A JSON call to an emulator (outside the browser). */
export async function http(method, url, { token, body, headers = {} } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (res.status >= 400) throw new Failure(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 400)}`);
  return json;
}
