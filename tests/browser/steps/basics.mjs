// Signed out, sign in, the crawl of every page linked from /home.
import { axe, BASE, check, env, log, ORIGIN, shots, visit } from '../lib.mjs';

export const SECTIONS = ['/connections', '/ui/flows', '/ui/templates', '/ui/runs', '/ui/history'];

export async function signedOut(ctx) {
  const { page, tracker } = ctx;
  const res = await page.goto(BASE + '/', { waitUntil: 'load' });
  check(res && res.status() === 200, `GET / signed out: HTTP ${res && res.status()}`);
  const url = new URL(page.url());
  check(url.pathname === '/login', `signed out, / should land on /login, landed on ${url.pathname}`);
  const passwords = await page.locator('form input[type="password"]').count();
  check(passwords === 1, `/login should have exactly one password field, has ${passwords}`);
  for (const p of ['/home', ...SECTIONS]) {
    await page.goto(BASE + p, { waitUntil: 'load' });
    check(new URL(page.url()).pathname === '/login', `signed out, ${p} should redirect to /login, shows ${page.url()}`);
  }
  await axe(page);
  await shots(page, 'login');
  tracker.assertClean('signed out');
}

export async function signIn(ctx) {
  const { page, tracker } = ctx;
  await visit(page, '/login', tracker);
  await page.locator('#password').fill(env('HLBRIDGE_UI_PASSWORD'));
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/home'),
    page.locator('form[action="/login"] button[type="submit"]').click(),
  ]);
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')));
  for (const s of SECTIONS) check(hrefs.includes(s), `/home should link ${s}; links: ${hrefs.join(' ')}`);
  check((await page.locator('nav').count()) >= 1 && (await page.locator('main').count()) === 1, '/home has a nav and one main');
  // Keyboard: the first Tab reaches a visible, focused control (the skip link).
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    return { tag: el.tagName, text: el.textContent.trim(), outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
  });
  check(focus, 'Tab on /home focuses nothing');
  check(
    (focus.outline !== 'none' && focus.width !== '0px') || (focus.shadow && focus.shadow !== 'none'),
    `the focused ${focus.tag} "${focus.text}" on /home has no visible focus style`,
  );
  tracker.assertClean('sign in');
}

/** Links never followed by the crawl: sign-out, the OAuth starts, assets. */
function skipped(path) {
  return path === '/logout' || path.startsWith('/connect/') || path.startsWith('/oauth/') || path.startsWith('/ui/assets/');
}

// Pages of one kind (same first two path segments, same depth, same query names:
// every catalog operation, every run) are visited this many times, so the crawl
// covers every kind of page in bounded time.
const PER_KIND = 3;

function kind(u) {
  const segs = u.pathname.split('/').filter(Boolean);
  const q = [...new Set(u.searchParams.keys())].sort().join(',');
  return `${segs.slice(0, 2).join('/')}|${segs.length}|${q}`;
}

/**
 * BFS over every same-origin link from /home (GET only): each page 200 HTML, not
 * the sign-in page, axe clean, screenshots at both widths, tracker clean.
 * Returns the set of pages seen.
 */
export async function crawl(ctx, { limit = 80, label = 'crawl' } = {}) {
  const { page, tracker } = ctx;
  const seen = new Set();
  const queue = ['/home'];
  const violations = [];
  const kinds = new Map([[kind(new URL(ORIGIN + '/home')), 1]]);
  while (queue.length) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    check(seen.size <= limit, `${label}: more than ${limit} pages reachable from /home (a link loop?)`);
    await visit(page, p, tracker);
    check(new URL(page.url()).pathname !== '/login', `${label}: ${p} sent a signed-in browser to /login`);
    await axe(page, violations);
    await shots(page, `${label}${p}`);
    tracker.assertClean(`${label} ${p}`);
    const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.href));
    for (const h of hrefs) {
      const u = new URL(h);
      if (u.origin !== ORIGIN) continue;
      const next = u.pathname + u.search;
      if (skipped(u.pathname) || seen.has(next) || queue.includes(next)) continue;
      const k = kind(u);
      const n = kinds.get(k) ?? 0;
      if (n >= PER_KIND) continue;
      kinds.set(k, n + 1);
      queue.push(next);
    }
  }
  check(violations.length === 0, `${label}: ${violations.length} page(s) with axe violations:\n${violations.join('\n')}`);
  for (const s of SECTIONS) check(seen.has(s), `${label}: ${s} is not reachable from /home`);
  log(`${label}: ${[...seen].join(' ')}`);
  log(`${label}: ${seen.size} pages, each 200, axe clean, screenshots at 1280 and 390 px`);
  return seen;
}
