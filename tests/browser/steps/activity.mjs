// Activity (issue #12, section 4): the synced Sellsy contact found on the timeline and
// in its cycle's page; a conflict queued and resolved on /ui/conflicts; a failed run
// replayed from its failed step once its cause is fixed on the emulator.
import { api, axe, check, log, shots, until, visit } from '../lib.mjs';
import {
  ghlContact,
  ghlCustomField,
  ghlNotes,
  ghlOpportunity,
  ghlSetStatus,
  ghlUpdateContact,
  sellsyGetContact,
  sellsyUpdateContact,
} from '../emulators.mjs';

/** `t` (a Date) as the value of a `datetime-local` field with seconds, in UTC. */
function local(t) {
  return t.toISOString().slice(0, 19);
}

/** The history rows of the synced contact (`/api/history`), oldest first. */
async function historyOf(page, pair, record) {
  const h = await api(page, 'GET', `/api/history?pair=${encodeURIComponent(pair)}&record=${encodeURIComponent(record)}`);
  check(h.status === 200 && Array.isArray(h.body), `GET /api/history for ${record}: ${h.status} ${JSON.stringify(h.body)}`);
  return [...h.body].reverse();
}

/**
 * The Sellsy contact of the previous step on /ui/activity: the pair's ok cycles around
 * the time its GHL copy was written, filtered through the page's form; the cycle that
 * carried it lists the write on its page.
 */
export async function activityOfSyncedContact(ctx) {
  const { page, tracker, state } = ctx;
  check(state.syncedEmail && state.sellsyContact && state.ghlContact, 'the previous step synced a Sellsy contact');
  const rows = await historyOf(page, state.pair, state.syncedEmail);
  const create = rows.find((r) => r.side === 'ghl' && r.op === 'create' && r.sellsy_id === String(state.sellsyContact));
  check(create, `the history has the GHL create of Sellsy contact ${state.sellsyContact}: ${JSON.stringify(rows).slice(0, 600)}`);
  check(create.source === 'poll', `a Sellsy contact is carried by a poll cycle: ${JSON.stringify(create)}`);
  const at = new Date(create.at);
  await visit(page, '/ui/activity', tracker);
  await page.getByLabel('Kind', { exact: true }).selectOption('cycle');
  await page.getByLabel('Pair', { exact: true }).selectOption(state.pair);
  await page.getByLabel('Status', { exact: true }).selectOption('ok');
  await page.getByLabel('From (UTC)').fill(local(new Date(at.getTime() - 15000)));
  await page.getByLabel('To (UTC)').fill(local(new Date(at.getTime() + 2000)));
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('pair') === state.pair && u.searchParams.get('status') === 'ok'),
    page.locator('#activity-apply').click(),
  ]);
  tracker.assertClean('filter /ui/activity');
  const entries = page.locator('#activity-list li[data-testid^="activity-cycle-"]');
  const n = await entries.count();
  check(n >= 1, `/ui/activity lists the pair's ok cycles around ${create.at}: ${n}`);
  check((await page.locator('#activity-list li[data-testid^="activity-run-"]').count()) === 0, 'kind=cycle lists no run');
  for (let i = 0; i < n; i++) {
    const text = await entries.nth(i).innerText();
    check(text.includes(state.pair) && /\bok\b/.test(text), `every entry is an ok cycle of pair ${state.pair}: ${text}`);
  }
  await axe(page);
  await shots(page, 'activity-cycles');
  // The cycle that carried it: the newest one that started before the write.
  const listed = await entries.evaluateAll((els) =>
    els.map((el) => ({ at: el.querySelector('time').getAttribute('datetime'), href: el.querySelector('a').getAttribute('href') })),
  );
  const carrier = listed.find((e) => new Date(e.at) <= at);
  check(carrier, `a cycle started before the write at ${create.at}: ${JSON.stringify(listed)}`);
  await Promise.all([page.waitForURL((u) => u.pathname === carrier.href), page.locator(`a[href="${carrier.href}"]`).click()]);
  tracker.assertClean(`open ${carrier.href}`);
  const write = page.locator('#cycle-writes tr[data-testid="cycle-write"]', { hasText: String(state.sellsyContact) });
  check((await write.count()) === 1, `${carrier.href} lists the write of Sellsy contact ${state.sellsyContact}: ${await page.locator('main').innerText()}`);
  const wt = await write.innerText();
  check(wt.includes(state.ghlContact) && wt.includes(state.syncedEmail) && /\bcreate\b/.test(wt), `the write names both records and the e-mail: ${wt}`);
  check((await page.locator('#cycle-status').innerText()).trim() === 'ok', 'the cycle is ok');
  await axe(page);
  await shots(page, 'activity-cycle');
  // Its history link opens the record's history.
  await Promise.all([page.waitForURL((u) => u.pathname === '/ui/history'), write.getByRole('link').click()]);
  check((await page.locator('main').innerText()).includes(state.ghlContact), 'the history link of the write lists the record');
  state.carrierCycle = carrier.href;
  log(`${state.syncedEmail} found in ${carrier.href} (${n} cycle(s) listed after filtering)`);
}

/** `config` with the website field's conflicts queued for a person (policy manual). */
function manualWebsite(config) {
  const lines = config.split('\n');
  check(!lines.some((l) => /^\s*website\s*=/.test(l)), `an inline website rule in the pair's config: ${config}`);
  const i = lines.findIndex((l) => /^\s*\[fields\.website\]\s*$/.test(l));
  if (i < 0) return `${config.replace(/\s*$/, '')}\n\n[fields.website]\nconflict = "manual"\n`;
  let j = i + 1;
  while (j < lines.length && !/^\s*\[/.test(lines[j])) j++;
  const rest = lines.slice(i + 1, j).filter((l) => !/^\s*conflict\s*=/.test(l));
  return [...lines.slice(0, i + 1), 'conflict = "manual"', ...rest, ...lines.slice(j)].join('\n');
}

async function openConflict(page, pair, ghlId) {
  const r = await api(page, 'GET', `/api/conflicts?pair=${encodeURIComponent(pair)}`);
  check(r.status === 200, `GET /api/conflicts: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.find((c) => c.conflict.field === 'website' && c.conflict.ghl_id === ghlId) ?? null;
}

/**
 * The linked contact's website changed in GHL and in Sellsy between two cycles under
 * policy manual: queued; both values side by side on /ui/conflicts; "Keep Sellsy"
 * resolves it and the next cycle writes the Sellsy value to GHL.
 */
export async function resolveConflict(ctx) {
  const { page, tracker, state } = ctx;
  const before = await api(page, 'GET', `/api/pairs/${state.pair}/config`);
  check(before.status === 200 && typeof before.body.config === 'string', `GET config: ${before.status} ${JSON.stringify(before.body)}`);
  const config = manualWebsite(before.body.config);
  const put = await api(page, 'PUT', `/api/pairs/${state.pair}/config`, { config });
  check(put.status === 200, `PUT /api/pairs/${state.pair}/config: ${put.status} ${JSON.stringify(put.body)}`);
  const after = await api(page, 'GET', `/api/pairs/${state.pair}/config`);
  check(after.body.config === config, `the config is stored as sent: ${JSON.stringify(after.body)}`);
  // Both sides edited at once (a cycle runs every half second: should one of them
  // slip between the two edits, the sync carries it across and no conflict is
  // queued; then both are edited again, with new values).
  let conflict = null;
  let values;
  for (let attempt = 1; attempt <= 3 && !conflict; attempt++) {
    values = { ghl: `https://ghl-${attempt}-${Date.now()}.example`, sellsy: `https://sellsy-${attempt}-${Date.now()}.example` };
    await Promise.all([
      ghlUpdateContact(state.ghlContact, { website: values.ghl }),
      sellsyUpdateContact(state.sellsyContact, { website: values.sellsy }),
    ]);
    const s = await api(page, 'POST', `/api/pairs/${state.pair}/sync`);
    check(s.status === 202, `POST /api/pairs/${state.pair}/sync: ${s.status} ${JSON.stringify(s.body)}`);
    try {
      conflict = await until(
        `a website conflict of GHL contact ${state.ghlContact}`,
        async () => {
          const c = await openConflict(page, state.pair, state.ghlContact);
          return c && c.conflict.ghl_value === values.ghl && c.conflict.sellsy_value === values.sellsy ? c : null;
        },
        15000,
        300,
      );
    } catch (e) {
      log(`attempt ${attempt}: no conflict queued (${e.message}); editing both sides again`);
    }
  }
  check(conflict, 'a conflict was queued for the website edited on both sides');
  // Untouched until a person decides.
  check((await ghlContact(state.ghlContact)).website === values.ghl, 'GHL keeps its value until resolved');
  await visit(page, '/ui/conflicts', tracker);
  await page.getByLabel('Pair', { exact: true }).selectOption(state.pair);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('pair') === state.pair), page.locator('#conflicts-apply').click()]);
  const item = page.locator(`li.conflict[data-conflict-id="${conflict.id}"]`);
  check((await item.count()) === 1, `/ui/conflicts?pair=${state.pair} lists conflict ${conflict.id}`);
  const g = (await item.getByTestId('conflict-ghl-value').innerText()).trim();
  const sv = (await item.getByTestId('conflict-sellsy-value').innerText()).trim();
  check(g === values.ghl && sv === values.sellsy, `both values side by side: GHL ${g}, Sellsy ${sv} (expected ${values.ghl}, ${values.sellsy})`);
  await axe(page);
  await shots(page, 'conflicts-open');
  const keep = item.getByRole('button', { name: /^Keep Sellsy/ });
  check((await keep.count()) === 1, `conflict ${conflict.id} has one "Keep Sellsy" button`);
  await keep.focus();
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === conflict.id), page.keyboard.press('Enter')]);
  tracker.assertClean(`resolve ${conflict.id}`);
  check((await page.locator('#conflict-done').innerText()).includes('Sellsy value is kept'), 'the page confirms the Sellsy value is kept');
  check((await page.locator(`li.conflict[data-conflict-id="${conflict.id}"]`).count()) === 0, 'the resolved conflict left the queue');
  await axe(page);
  await shots(page, 'conflicts-resolved');
  const all = await api(page, 'GET', `/api/conflicts?pair=${encodeURIComponent(state.pair)}&all=true`);
  const resolved = all.body.find((c) => c.id === conflict.id);
  check(resolved && resolved.conflict.status === 'resolved' && resolved.conflict.resolution === 'take sellsy', `conflict ${conflict.id} resolved for Sellsy: ${JSON.stringify(resolved)}`);
  check(!(await openConflict(page, state.pair, state.ghlContact)), 'no open website conflict left for the contact');
  const both = await until(`${values.sellsy} on both sides`, async () => {
    const [gc, sc] = await Promise.all([ghlContact(state.ghlContact), sellsyGetContact(state.sellsyContact)]);
    return gc.website === values.sellsy && sc.website === values.sellsy ? { gc, sc } : null;
  });
  check(both.sc.website === values.sellsy, 'Sellsy kept its value');
  state.conflict = conflict.id;
  state.keptWebsite = values.sellsy;
  log(`conflict ${conflict.id} resolved through /ui/conflicts: ${values.sellsy} on both sides`);
}

export const FAILING = 'browser-lost-deal-note';
const REASON_FIELD = 'Browser lost reason';

function failingFlow() {
  return `schema_version: 1
name: ${FAILING}
title: "Lost GHL deal: its name on the contact, then a note"
trigger:
  webhook:
    app: ghl
    events: [OpportunityStatusUpdate]
steps:
  - id: lost
    filter:
      all:
        - { value: "{{ trigger.status }}", op: equals, arg: lost }
  - id: reason
    action:
      operation: "ghl:contacts.update-contact"
      params:
        contactId: "{{ trigger.contactId }}"
      body:
        customFields:
          - { key: "browser_lost_reason", field_value: "{{ trigger.name }}" }
  - id: note
    action:
      operation: "ghl:contacts.create-note"
      params:
        contactId: "{{ trigger.contactId }}"
      body:
        body: "Deal {{ trigger.name }} lost. [ghl-lost:{{ trigger.id }}]"
`;
}

async function notesFor(contact, opp) {
  return (await ghlNotes(contact)).filter((n) => (n.body ?? '').includes(`[ghl-lost:${opp}]`));
}

/**
 * A flow that writes a GHL custom field the location does not have: its run fails at
 * that step with GHL's error, shown on the run's page; the field is made in GHL; the
 * replay from the failed step succeeds and its note lands once.
 */
export async function replayFailedRun(ctx) {
  const { page, tracker, state } = ctx;
  const put = await api(page, 'PUT', `/api/flows/${FAILING}`, { text: failingFlow() });
  check(put.status === 200, `PUT /api/flows/${FAILING}: ${put.status} ${JSON.stringify(put.body)}`);
  const dep = await api(page, 'POST', `/api/flows/${FAILING}/deploy`, { pair: state.pair });
  check(dep.status === 200 && dep.body.enabled !== false, `deploy ${FAILING}: ${dep.status} ${JSON.stringify(dep.body)}`);
  const opp = await ghlOpportunity(`lost.${Date.now()}@example.com`);
  await ghlSetStatus(opp.id, 'lost');
  const failed = await until(
    `the failed run of ${FAILING}`,
    async () => {
      const r = await api(page, 'GET', `/api/runs?flow=${FAILING}&status=failed`);
      return r.status === 200 ? r.body.find((x) => JSON.stringify(x.trigger ?? '').includes(opp.id)) ?? r.body[0] : null;
    },
    45000,
    500,
  );
  check(failed.failed_step === 'reason', `run ${failed.id} failed at step reason: ${JSON.stringify(failed)}`);
  check((await notesFor(opp.contactId, opp.id)).length === 0, 'the failed run wrote no note');
  // Found like a person: the runs page filtered to the flow's failed runs.
  await visit(page, '/ui/runs', tracker);
  await page.getByLabel('Flow', { exact: true }).fill(FAILING);
  await page.getByLabel('Status', { exact: true }).selectOption('failed');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('status') === 'failed'), page.locator('#runs-apply').click()]);
  const row = page.getByTestId(`run-row-${failed.id}`);
  check((await row.count()) === 1, `/ui/runs?flow=${FAILING}&status=failed lists run ${failed.id}`);
  await axe(page);
  await shots(page, 'runs-failed');
  await Promise.all([page.waitForURL((u) => u.pathname === `/ui/runs/${failed.id}`), row.getByRole('link', { name: `#${failed.id}` }).click()]);
  tracker.assertClean(`open run ${failed.id}`);
  check((await page.locator('#run-status').innerText()).trim() === 'failed', `run ${failed.id} shows failed`);
  const step = page.getByTestId('step-reason');
  check((await step.count()) >= 1, `the page of run ${failed.id} shows step reason`);
  const err = (await step.last().getByTestId('step-error').innerText()).trim();
  check(err.includes('browser_lost_reason'), `the failed step shows GHL's error about the missing field: ${err}`);
  check((await page.locator('#run-failed-step').innerText()).trim() === 'reason', 'the run names its failed step');
  check((await page.getByTestId('step-note').count()) === 0, 'the step after the failure did not run');
  await axe(page);
  await shots(page, `run-failed-${failed.id}`);
  // The cause fixed in GHL: the custom field made in the location.
  const field = await ghlCustomField(REASON_FIELD, 'TEXT');
  check(field.key === 'contact.browser_lost_reason', `the field's key is what the flow writes: ${field.key}`);
  const replay = page.locator('#replay-run');
  check((await replay.innerText()).includes('Replay from failed step'), 'the run has the replay button');
  await Promise.all([page.waitForURL((u) => /^\/ui\/runs\/\d+$/.test(u.pathname) && u.pathname !== `/ui/runs/${failed.id}`), replay.click()]);
  tracker.assertClean(`replay run ${failed.id}`);
  const newId = Number(new URL(page.url()).pathname.split('/').pop());
  const nr = await api(page, 'GET', `/api/runs/${newId}`);
  check(nr.status === 200 && nr.body.run.status === 'ok', `the replay (run ${newId}) succeeded: ${JSON.stringify(nr.body).slice(0, 600)}`);
  check(nr.body.run.replay_of === failed.id, `run ${newId} is a replay of ${failed.id}: ${nr.body.run.replay_of}`);
  const sent = nr.body.steps.filter((s) => s.status === 'ok').map((s) => s.step_path);
  check(sent.includes('reason') && sent.includes('note'), `the replay ran reason and note: ${sent}`);
  check((await page.locator('#run-status').innerText()).trim() === 'ok', `the page of run ${newId} shows ok`);
  check((await page.locator('#run-replay-of').innerText()).includes(String(failed.id)), 'the page links the replayed run');
  check((await page.locator('#replay-run').count()) === 0, 'an ok run offers no replay');
  await axe(page);
  await shots(page, `run-replayed-${newId}`);
  const contact = await ghlContact(opp.contactId);
  const value = (contact.customFields ?? []).find((c) => c.id === field.id);
  check(value && value.value === 'Browser deal', `the GHL contact has the lost deal's name: ${JSON.stringify(contact.customFields)}`);
  const notes = await notesFor(opp.contactId, opp.id);
  check(notes.length === 1, `exactly one note for the lost deal: ${JSON.stringify(notes)}`);
  const orig = await api(page, 'GET', `/api/runs/${failed.id}`);
  check(orig.body.run.status === 'failed', `the original run stays failed: ${orig.body.run.status}`);
  // The dead letters, through the nav: the failed run says it was replayed, and how.
  await visit(page, '/home', tracker);
  await Promise.all([page.waitForURL((u) => u.pathname === '/ui/dead-letters'), page.getByRole('link', { name: 'Dead letters', exact: true }).first().click()]);
  const replayed = (await page.getByTestId(`dead-run-replay-${failed.id}`).innerText()).trim();
  check(replayed === `as #${newId}: ok`, `/ui/dead-letters says run ${failed.id} was replayed as #${newId}, ok: ${replayed}`);
  await axe(page);
  await shots(page, 'dead-letters-replayed');
  state.failedRun = failed.id;
  state.replayRun = newId;
  state.lostOpportunity = opp.id;
  state.lostContact = opp.contactId;
  state.lostNote = notes[0].id;
  log(`run ${failed.id} failed at reason; replayed as ${newId} after the field was made: ok, one note`);
}
