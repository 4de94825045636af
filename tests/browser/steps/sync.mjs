// A contact created in Sellsy, synced by the pair: in GHL, in the record's history.
import { api, axe, check, log, shots, until, visit } from '../lib.mjs';
import { ghlFindContact, sellsyContact } from '../emulators.mjs';

export async function sellsyContactSynced(ctx) {
  const { page, tracker, state } = ctx;
  const email = `grace.${Date.now()}@example.com`;
  const c = await sellsyContact('Grace', 'Sellsy', email);
  const r = await api(page, 'POST', `/api/pairs/${state.pair}/sync`);
  check(r.status === 202, `POST /api/pairs/${state.pair}/sync: ${r.status} ${JSON.stringify(r.body)}`);
  const rows = await until(
    `the history of ${email}`,
    async () => {
      const h = await api(page, 'GET', `/api/history?pair=${encodeURIComponent(state.pair)}&record=${encodeURIComponent(email)}`);
      return h.status === 200 && h.body.length ? h.body : null;
    },
    45000,
    500,
  );
  const ghl = await until(`${email} in GHL`, () => ghlFindContact(email));
  check(ghl.email === email, `the GHL contact has the Sellsy e-mail: ${JSON.stringify(ghl)}`);
  // The record's history page, reached through its search form.
  await visit(page, '/ui/history', tracker);
  await page.locator('#record').fill(email);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('record') === email), page.locator('form[role="search"] button[type="submit"]').click()]);
  tracker.assertClean('history search');
  const table = page.locator('main table tbody tr');
  const n = await table.count();
  check(n >= 1 && n >= Math.min(rows.length, 1), `/ui/history?record=${email} lists its history (${n} rows, API ${rows.length})`);
  const text = await page.locator('main').innerText();
  check(text.includes(String(c.id)) || text.includes(ghl.id), `the history page names the record (Sellsy ${c.id} or GHL ${ghl.id})`);
  await axe(page);
  await shots(page, 'history-record');
  state.sellsyContact = c.id;
  state.syncedEmail = email;
  state.ghlContact = ghl.id;
  log(`Sellsy contact ${c.id} synced to GHL ${ghl.id}; ${rows.length} history row(s)`);
}
