// Connect GHL and Sellsy through the emulators' consent pages, then a pair.
import { api, axe, BASE, check, log, shots, visit } from '../lib.mjs';
import { GHL_BASE, GHL_LOCATION, SELLSY_BASE } from '../emulators.mjs';

// The labels of the Connect controls on /connections (the wording of issue #12, and
// the older wording of the first connections page).
const CONNECT = {
  ghl: /^\s*Connect (GoHighLevel|a GHL location)\s*$/,
  sellsy: /^\s*Connect Sellsy\s*$/,
};

async function connections(page) {
  const r = await api(page, 'GET', '/api/connections');
  check(r.status === 200 && Array.isArray(r.body), `GET /api/connections: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function connectOne(ctx, app, emulatorBase, approve) {
  const { page, tracker } = ctx;
  await visit(page, '/connections', tracker);
  const control = page.locator('a, button').filter({ hasText: CONNECT[app] });
  const n = await control.count();
  check(n === 1, `/connections should have one "${CONNECT[app].source}" control, has ${n}`);
  const emu = new URL(emulatorBase).origin;
  await Promise.all([page.waitForURL((u) => u.origin === emu), control.click()]);
  await approve(page);
  await page.waitForURL((u) => u.origin === new URL(BASE).origin && u.pathname === '/connections');
  tracker.assertClean(`connect ${app}`);
}

export async function connectBoth(ctx) {
  const { page, tracker, state } = ctx;
  tracker.allow([GHL_BASE, SELLSY_BASE]);
  check((await connections(page)).length === 0, 'the test starts with no connection');
  await connectOne(ctx, 'ghl', GHL_BASE, async (p) => {
    await p.locator('#approve').click();
  });
  await connectOne(ctx, 'sellsy', SELLSY_BASE, async (p) => {
    await p.locator('#approve').click();
  });
  const list = await connections(page);
  const ghl = list.find((c) => c.app === 'ghl');
  const sellsy = list.find((c) => c.app === 'sellsy');
  check(ghl && sellsy, `both connections stored: ${JSON.stringify(list)}`);
  check(ghl.account === GHL_LOCATION, `the GHL connection is for location ${GHL_LOCATION}: ${JSON.stringify(ghl)}`);
  check(ghl.status === 'ok' && sellsy.status === 'ok', `both connections ok: ${JSON.stringify(list)}`);
  // Both listed on the page.
  const text = await page.locator('main').innerText();
  for (const c of [ghl, sellsy]) {
    check(text.includes(c.account), `/connections lists the ${c.app} account ${c.account}`);
  }
  await shots(page, 'connections-connected');
  state.ghlConnection = ghl.id;
  state.sellsyConnection = sellsy.id;
  state.sellsyAccount = sellsy.account;
  log(`connected GHL ${ghl.id} (${ghl.account}) and Sellsy ${sellsy.id} (${sellsy.account}) through the consent pages`);
}

/** A pair of the two connections, made through the form of the pairs page. */
export async function createPair(ctx) {
  const { page, tracker, state } = ctx;
  const before = await api(page, 'GET', '/api/pairs');
  check(before.status === 200 && Array.isArray(before.body), `GET /api/pairs: ${before.status} ${JSON.stringify(before.body)}`);
  await visit(page, '/ui/pairs', tracker);
  const form = page.locator('#new-pair-form');
  check((await form.count()) === 1, '/ui/pairs has the new-pair form (#new-pair-form)');
  await page.getByLabel('GHL location', { exact: true }).selectOption(state.ghlConnection);
  await page.getByLabel('Sellsy account', { exact: true }).selectOption(state.sellsyConnection);
  await axe(page);
  await shots(page, 'pairs-new');
  await Promise.all([page.waitForURL((u) => /^\/ui\/pairs\/[^/]+\/mapping$/.test(u.pathname)), page.locator('#create-pair').click()]);
  tracker.assertClean('create a pair through /ui/pairs');
  const pairs = await api(page, 'GET', '/api/pairs');
  const known = new Set(before.body.map((p) => p.id));
  const added = pairs.body.filter((p) => !known.has(p.id));
  check(added.length === 1, `the form made one pair: ${JSON.stringify(pairs.body)}`);
  const pair = added[0];
  check(pair.ghl === state.ghlConnection && pair.sellsy === state.sellsyConnection, `the pair joins the two connections: ${JSON.stringify(pair)}`);
  const landed = decodeURIComponent(new URL(page.url()).pathname.split('/')[3]);
  check(landed === pair.id, `the form lands on the new pair's mapping editor: ${page.url()} (pair ${pair.id})`);
  state.pair = pair.id;
  log(`pair ${pair.id} created through /ui/pairs`);
}
