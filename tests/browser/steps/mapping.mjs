// The mapping editor of issue #12: custom fields made in both accounts, listed live;
// one paired by drag and drop, one by keyboard (a type mismatch flagged, then undone);
// a direction and a conflict policy; preview on a real contact; dry run; save.
import { api, axe, check, log, shots, until, visit } from '../lib.mjs';
import { ghlContactWith, ghlCustomField, ghlSetCustom, sellsyContact, sellsyCustomField, sellsySetCustom } from '../emulators.mjs';

// The Sellsy custom fields: `browser-tier` is made by crates/service/tests/browser_ui.rs
// before the script (Sellsy's API cannot create one), `score` and `customer-segment`
// are among every Sellsy account's definitions in the emulator.
const SELLSY_TIER = 'browser-tier';
const SELLSY_SCORE = 'score';
const SELLSY_TEXT = 'customer-segment';

/**
 * Presses Tab (Shift+Tab when the target comes before the focus in the page) until
 * the focused element matches `selector`, at most `max` times.
 */
async function tabTo(page, selector, max = 200) {
  for (let i = 0; i < max; i++) {
    const where = await page.evaluate((s) => {
      const a = document.activeElement;
      if (a && a.matches(s)) return 'here';
      const t = document.querySelector(s);
      if (!t) return 'missing';
      if (!a || a === document.body) return 'after';
      return a.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_PRECEDING ? 'before' : 'after';
    }, selector);
    if (where === 'here') return;
    check(where !== 'missing', `no ${selector} on the page to Tab to`);
    await page.keyboard.press(where === 'before' ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${max} presses of Tab never focused ${selector} (focus on ${await focused(page)})`);
}

async function focused(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    return a ? a.getAttribute('data-testid') || a.id || a.tagName : null;
  });
}

/** The mapping rows of the pair as the API reads its stored configuration. */
async function storedRows(page, pair) {
  const r = await api(page, 'GET', `/api/pairs/${encodeURIComponent(pair)}/fields`);
  check(r.status === 200, `GET /api/pairs/${pair}/fields: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
  return r.body.current.rows;
}

/** Custom fields in GHL (text, number) and Sellsy; a contact with values in each. */
export async function customFields(ctx) {
  const { state } = ctx;
  const tier = await ghlCustomField('Browser tier', 'TEXT');
  const score = await ghlCustomField('Browser score', 'NUMERICAL');
  check(tier.key === 'contact.browser_tier' && score.key === 'contact.browser_score', `GHL custom field keys: ${tier.key}, ${score.key}`);
  const defs = {};
  for (const code of [SELLSY_TIER, SELLSY_SCORE, SELLSY_TEXT]) {
    defs[code] = await sellsyCustomField(code);
    check(defs[code], `the Sellsy account has the custom field ${code}`);
  }
  // A Sellsy contact with a score, for the preview of the other direction.
  const sam = await sellsyContact('Sam', 'Score', `score.${Date.now()}@example.com`);
  await sellsySetCustom(sam.id, [{ id: defs[SELLSY_SCORE].id, value: '7' }]);
  state.scoreContact = String(sam.id);
  const email = `tier.${Date.now()}@example.com`;
  const contact = await ghlContactWith('Tia', 'Tier', email, { browser_tier: 'Gold', browser_score: 42 });
  state.tierContact = contact;
  state.tierEmail = email;
  state.ghlTierKey = tier.key;
  state.ghlScoreKey = score.key;
  log(`GHL custom fields ${tier.key}, ${score.key}; contact ${contact} (${email}) with Gold / 42; Sellsy contact ${sam.id} with score 7`);
}

/** The editor, opened from /ui/pairs; a custom field paired by drag and drop. */
export async function mapByDragAndDrop(ctx) {
  const { page, tracker, state } = ctx;
  await visit(page, '/ui/pairs', tracker);
  const link = page.getByTestId(`mapping-link-${state.pair}`);
  check((await link.count()) === 1, `/ui/pairs links the mapping editor of pair ${state.pair}`);
  await Promise.all([page.waitForURL((u) => u.pathname.endsWith('/mapping')), link.click()]);
  tracker.assertClean('open the mapping editor');
  check((await page.locator('#fields-error').count()) === 0, 'the editor read both accounts live (no #fields-error)');
  const from = page.getByTestId(`ghl-field-${state.ghlTierKey}`);
  const to = page.getByTestId(`sellsy-field-${SELLSY_TIER}`);
  check((await from.count()) === 1 && (await to.count()) === 1, `the editor lists GHL ${state.ghlTierKey} and Sellsy ${SELLSY_TIER} live`);
  check((await page.getByTestId(`mapping-row-${state.ghlTierKey}`).count()) === 0, 'no row for the new field yet');
  await axe(page);
  await shots(page, 'mapping-editor');

  await from.dragTo(to);
  const row = page.getByTestId(`mapping-row-${state.ghlTierKey}`);
  await until('the dropped pair in the mapping rows', async () => (await row.count()) === 1, 5000, 100);
  check((await row.getAttribute('data-sellsy')) === SELLSY_TIER, `the row pairs ${state.ghlTierKey} with ${SELLSY_TIER}`);
  check((await page.getByTestId(`check-${state.ghlTierKey}`).innerText()).trim() === 'ok', 'text → text is no type mismatch');
  // A direction and a conflict policy on that row, through its own controls.
  await page.getByLabel(`Direction for ${state.ghlTierKey}`, { exact: true }).selectOption('to_sellsy');
  await page.getByLabel(`Conflict policy for ${state.ghlTierKey}`, { exact: true }).selectOption('ghl_wins');
  const text = await page.getByTestId('config-text').textContent();
  check(
    text.includes(`[custom_fields."${state.ghlTierKey}"]\nsellsy = "${SELLSY_TIER}"\ndirection = "to_sellsy"\nconflict = "ghl_wins"`),
    `the configuration to save holds the dropped pair with its direction and policy:\n${text}`,
  );
  await axe(page);
  await shots(page, 'mapping-dragged');
  log(`dragged ${state.ghlTierKey} onto ${SELLSY_TIER}; direction → Sellsy, GHL wins`);
}

/** By keyboard only: a mismatching pair flagged and removed, then the right one. */
export async function mapByKeyboard(ctx) {
  const { page, state } = ctx;
  const key = state.ghlScoreKey;
  async function choose(side, testid, needle, press) {
    // Tab to the side's filter, type over it, Tab to the field, press Enter or Space.
    await tabTo(page, `#${side}-filter`);
    await page.keyboard.press('Control+A');
    await page.keyboard.type(needle);
    await tabTo(page, `[data-testid="${testid}"]`, 10);
    await page.keyboard.press(press);
    check((await page.getByTestId(testid).getAttribute('aria-pressed')) === 'true', `${testid} selected by ${press} (focus on ${await focused(page)})`);
  }
  // The arrow keys within a list: End, Home, then ArrowDown to the field; Enter.
  async function arrowTo(side, testid) {
    await tabTo(page, `#${side}-filter`);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.press('Tab');
    const ids = await page.locator(`button.field[data-side="${side}"]`).evaluateAll((bs) => bs.map((b) => b.getAttribute('data-testid')));
    check((await focused(page)) === ids[0], `Tab after the cleared filter focuses the first ${side} field (${await focused(page)})`);
    await page.keyboard.press('End');
    check((await focused(page)) === ids[ids.length - 1], `End focuses the last ${side} field (${await focused(page)})`);
    await page.keyboard.press('Home');
    check((await focused(page)) === ids[0], `Home focuses the first ${side} field`);
    for (let i = 0; i < ids.length && (await focused(page)) !== testid; i++) await page.keyboard.press('ArrowDown');
    check((await focused(page)) === testid, `ArrowDown reaches ${testid} (focus on ${await focused(page)})`);
    await page.keyboard.press('Enter');
    check((await page.getByTestId(testid).getAttribute('aria-pressed')) === 'true', `${testid} selected by Enter`);
  }
  async function pairSelected() {
    await tabTo(page, '#pair-button');
    await page.keyboard.press('Enter');
  }
  await choose('ghl', `ghl-field-${key}`, 'Browser score', 'Enter');
  check(
    (await page.getByTestId(`sellsy-field-${SELLSY_TEXT}`).getAttribute('class')).includes('incompatible'),
    'with a number field selected, the Sellsy text field is flagged',
  );
  await choose('sellsy', `sellsy-field-${SELLSY_TEXT}`, 'Customer segment', 'Space');
  await pairSelected();
  const check_ = page.getByTestId(`check-${key}`);
  await until('the mismatching row', async () => (await check_.count()) === 1, 5000, 100);
  const flag = await check_.innerText();
  check(/Type mismatch: GHL number vs Sellsy text/.test(flag), `the mismatch is flagged in the row: "${flag}"`);
  check(/Type mismatch/.test(await page.locator('#pair-message').innerText()), 'the pairing message names the mismatch');
  await axe(page);
  await shots(page, 'mapping-mismatch');
  // Saving is refused while a row mismatches: nothing stored.
  await tabTo(page, '#save-mapping');
  await page.keyboard.press('Enter');
  check(/Fix the type mismatches/.test(await page.locator('#mapping-status').innerText()), 'Save refuses a mismatching row');
  check(!(await storedRows(page, state.pair)).some((r) => r.ghl === key), 'the mismatching row was not saved');
  // Undo: the row's Remove button, by keyboard.
  await tabTo(page, `button[aria-label="Remove the pairing of ${key}"]`, 200);
  await page.keyboard.press('Enter');
  check((await page.getByTestId(`mapping-row-${key}`).count()) === 0, 'the mismatching row is removed');
  check(!/Fix the type mismatches/.test(await page.locator('#mapping-status').innerText()), 'the refusal goes with the mismatch');
  // The right pair: GHL number with Sellsy number.
  await choose('ghl', `ghl-field-${key}`, 'Browser score', 'Space');
  await arrowTo('sellsy', `sellsy-field-${SELLSY_SCORE}`);
  await pairSelected();
  const row = page.getByTestId(`mapping-row-${key}`);
  await until('the keyboard pair in the rows', async () => (await row.count()) === 1, 5000, 100);
  check((await row.getAttribute('data-sellsy')) === SELLSY_SCORE, `${key} is paired with ${SELLSY_SCORE}`);
  check((await check_.innerText()).trim() === 'ok', 'number → number is no mismatch');
  await axe(page);
  await shots(page, 'mapping-keyboard');
  log(`paired ${key} with ${SELLSY_SCORE} by keyboard; the mismatch with ${SELLSY_TEXT} was flagged and removed`);
}

/** Preview: the values the contact would write; dry run: counts and a sample diff. */
export async function previewAndDryRun(ctx) {
  const { page, tracker, state } = ctx;
  await page.locator('#preview-button').click();
  const table = page.getByTestId(`preview-ghl-${state.tierContact}`);
  await until(`the preview of GHL contact ${state.tierContact}`, async () => (await table.count()) === 1, 20000, 200);
  const tier = page.getByTestId(`preview-value-ghl-${state.tierContact}-custom.${state.ghlTierKey}`);
  const score = page.getByTestId(`preview-value-ghl-${state.tierContact}-custom.${state.ghlScoreKey}`);
  check((await tier.count()) === 1, `the preview shows ${state.ghlTierKey} for the contact`);
  check((await tier.innerText()).includes('Gold'), `the preview shows "Gold": ${await tier.innerText()}`);
  check((await score.count()) === 1 && (await score.innerText()).includes('42'), `the preview shows the score 42`);
  check((await table.innerText()).includes('Sellsy'), 'the preview says the values go to Sellsy');
  // And the Sellsy contact's score, which would be written to GHL (score is both ways).
  const sam = page.getByTestId(`preview-value-sellsy-${state.scoreContact}-custom.${state.ghlScoreKey}`);
  check((await sam.count()) === 1 && (await sam.innerText()).includes('7'), `the preview shows Sellsy contact ${state.scoreContact}'s score 7 for GHL`);
  tracker.assertClean('preview');
  await axe(page);
  await shots(page, 'mapping-preview');

  await page.locator('#dry-run-button').click();
  const counts = page.getByTestId('dry-run-counts');
  await until('the dry run counts', async () => (await counts.count()) === 1, 30000, 200);
  const cells = await counts.locator('tbody tr').evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim())),
  );
  check(cells.length === 2, `the counts have a GHL and a Sellsy row: ${JSON.stringify(cells)}`);
  for (const [side, ...nums] of cells) {
    check(nums.length === 5 && nums.every((n) => /^\d+$/.test(n)), `dry run counts of ${side} are non-negative numbers: ${JSON.stringify(nums)}`);
  }
  const out = await page.getByTestId('dry-run-result').innerText();
  check(/Sample diff \(\d+\)/.test(out), `the dry run shows its sample diff: ${out.slice(0, 400)}`);
  tracker.assertClean('dry run');
  await axe(page);
  await shots(page, 'mapping-dry-run');
  log(`preview shows Gold / 42 to Sellsy and 7 to GHL; dry run counts ${JSON.stringify(cells)}`);
}

/** Save; the stored configuration holds both pairs; reloaded, both are still there. */
export async function saveMapping(ctx) {
  const { page, tracker, state } = ctx;
  // A transform on the pair of custom text fields: GHL's value reaches Sellsy in capitals.
  await page.getByLabel(`Transform for ${state.ghlTierKey}`, { exact: true }).selectOption('uppercase');
  await page.locator('#save-mapping').click();
  await until('"Saved."', async () => /^Saved\./.test(await page.locator('#mapping-status').innerText()), 15000, 100);
  const rows = await storedRows(page, state.pair);
  const tier = rows.find((r) => r.ghl === state.ghlTierKey);
  const score = rows.find((r) => r.ghl === state.ghlScoreKey);
  check(tier && tier.custom && tier.sellsy === SELLSY_TIER, `saved: ${state.ghlTierKey} → ${SELLSY_TIER}: ${JSON.stringify(rows)}`);
  check(tier.direction === 'to_sellsy' && tier.conflict === 'ghl_wins' && tier.transform === 'uppercase', `saved with its direction, policy and transform: ${JSON.stringify(tier)}`);
  check(score && score.custom && score.sellsy === SELLSY_SCORE && score.direction === 'both', `saved: ${state.ghlScoreKey} ↔ ${SELLSY_SCORE}: ${JSON.stringify(score)}`);
  const cfg = await api(page, 'GET', `/api/pairs/${encodeURIComponent(state.pair)}/config`);
  check(cfg.status === 200 && cfg.body.config.includes(`[custom_fields."${state.ghlTierKey}"]`), `GET /api/pairs/${state.pair}/config holds the mapping: ${JSON.stringify(cfg.body).slice(0, 600)}`);

  await page.reload({ waitUntil: 'load' });
  tracker.assertClean('reload the editor');
  const row = page.getByTestId(`mapping-row-${state.ghlTierKey}`);
  check((await row.count()) === 1 && (await row.getAttribute('data-sellsy')) === SELLSY_TIER, 'reloaded: the dragged pair is shown');
  check((await page.getByLabel(`Direction for ${state.ghlTierKey}`, { exact: true }).inputValue()) === 'to_sellsy', 'reloaded: its direction');
  check((await page.getByLabel(`Conflict policy for ${state.ghlTierKey}`, { exact: true }).inputValue()) === 'ghl_wins', 'reloaded: its policy');
  check((await page.getByLabel(`Transform for ${state.ghlTierKey}`, { exact: true }).inputValue()) === 'uppercase', 'reloaded: its transform');
  const srow = page.getByTestId(`mapping-row-${state.ghlScoreKey}`);
  check((await srow.count()) === 1 && (await srow.getAttribute('data-sellsy')) === SELLSY_SCORE, 'reloaded: the keyboard pair is shown');
  await axe(page);
  await shots(page, 'mapping-saved');
  // A change in GHL after the save: the next cycles carry it to Sellsy (browser_ui.rs
  // reads the Sellsy contact's custom value at the end).
  state.tierValue = 'Platinum';
  state.tierSellsy = 'PLATINUM'; // through the uppercase transform
  await ghlSetCustom(state.tierContact, { browser_tier: state.tierValue });
  log(`saved ${rows.length} rows; ${state.tierContact} set to ${state.tierValue} in GHL for the next cycle`);
}
