// Connect GHL and Sellsy through the emulators' consent pages, then a pair.
import { api, BASE, check, log, shots, visit } from '../lib.mjs';
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

/** A pair of the two connections: through the pairs page when it has a form, else REST. */
export async function createPair(ctx) {
  const { page, state } = ctx;
  const r = await api(page, 'POST', '/api/pairs', { ghl: state.ghlConnection, sellsy: state.sellsyConnection });
  check(r.status === 200 || r.status === 201, `POST /api/pairs: ${r.status} ${JSON.stringify(r.body)}`);
  const pairs = await api(page, 'GET', '/api/pairs');
  const pair = pairs.body.find((p) => p.id === r.body.id);
  check(pair, `the new pair ${r.body.id} is listed: ${JSON.stringify(pairs.body)}`);
  check(pair.ghl === state.ghlConnection && pair.sellsy === state.sellsyConnection, `the pair joins the two connections: ${JSON.stringify(pair)}`);
  state.pair = pair.id;
  log(`pair ${pair.id}`);
}
