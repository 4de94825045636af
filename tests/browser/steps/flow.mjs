// A flow from the template gallery: used, tested with a sample item, deployed; a
// won GHL opportunity runs it (the run on the runs pages, the task in Sellsy).
import { api, axe, check, log, shots, until, visit } from '../lib.mjs';
import { ghlOpportunity, ghlSetStatus, GHL_LOCATION, sellsyFindContacts, sellsyTasks, tasksFor } from '../emulators.mjs';

export const FLOW = 'ghl-opportunity-won-to-sellsy-task';

async function flow(page) {
  const r = await api(page, 'GET', `/api/flows/${FLOW}`);
  return r.status === 200 ? r.body : null;
}

export async function useTemplate(ctx) {
  const { page, tracker, state } = ctx;
  check((await flow(page)) === null, `${FLOW} is not deployed before the test`);
  await visit(page, '/ui/templates', tracker);
  const use = page.getByRole('button', { name: `Use ${FLOW}`, exact: true });
  check((await use.count()) === 1, `/ui/templates has one "Use ${FLOW}" button`);
  await Promise.all([page.waitForURL((u) => u.pathname !== '/ui/templates'), use.click()]);
  tracker.assertClean(`use ${FLOW}`);
  const f = await flow(page);
  check(f, `${FLOW} stored after "Use"`);
  state.flowVersion = f.version;
  log(`${FLOW} created from the gallery (version ${f.version}, enabled ${f.enabled})`);
}

/** "Test with a sample item": the dry run lists the writes and writes nothing. */
export async function testWithSample(ctx) {
  const { page, state } = ctx;
  const email = `dry.${Date.now()}@example.com`;
  const opp = await ghlOpportunity(email);
  const before = (await sellsyTasks()).length;
  const item = {
    type: 'OpportunityStatusUpdate',
    id: opp.id,
    status: 'won',
    locationId: GHL_LOCATION,
    name: 'Browser deal',
    contactId: opp.contactId,
  };
  const r = await api(page, 'POST', `/api/flows/${FLOW}/test`, { item });
  check(r.status === 200, `POST /api/flows/${FLOW}/test: ${r.status} ${JSON.stringify(r.body)}`);
  const writes = r.body.writes ?? [];
  check(writes.length > 0, `the dry run lists the writes it would send: ${JSON.stringify(r.body).slice(0, 600)}`);
  // The task hangs on the Sellsy contact of the GHL contact. The pair's sync (every
  // 500 ms here, and on GHL's webhooks) may already have carried the new contact
  // across: then the dry run relates the task to that contact; else it would create
  // the contact (with the GHL contact's e-mail) first.
  const shown = JSON.stringify(writes).slice(0, 600);
  const creates = writes.some((w) => w.operation === 'sellsy:contacts.create-contact' && w.request?.body?.email === email);
  const task = writes.find((w) => w.operation === 'sellsy:tasks.create-task');
  check(task, `the dry run would create the Sellsy task: ${shown}`);
  if (!creates) {
    const synced = await sellsyFindContacts(email);
    check(synced.length === 1, `the dry run creates no Sellsy contact for ${email}, so the sync made exactly one: ${JSON.stringify(synced)} ${shown}`);
    const related = JSON.stringify(task.request?.body?.related ?? []);
    check(
      related.includes(`"id":${synced[0].id}`) || related.includes(`"id":"${synced[0].id}"`),
      `the task would be related to Sellsy contact ${synced[0].id}: ${related}`,
    );
  }
  check((await sellsyTasks()).length === before, 'the dry run wrote no Sellsy task');
  state.dryOpportunity = opp.id;
  log(`tested with a sample item: ${writes.length} write(s) listed, none sent`);
}

/** Deployed and enabled (through the flows page when it is disabled). */
export async function deploy(ctx) {
  const { page, tracker } = ctx;
  let f = await flow(page);
  if (!f.enabled) {
    await visit(page, '/ui/flows', tracker);
    await page.getByRole('button', { name: `Enable ${FLOW}`, exact: true }).click();
    await page.waitForLoadState('load');
    f = await flow(page);
  }
  check(f.enabled === true, `${FLOW} enabled: ${JSON.stringify(f)}`);
  check(String(f.trigger).includes('OpportunityStatusUpdate'), `${FLOW} triggers on OpportunityStatusUpdate: ${f.trigger}`);
  await visit(page, '/ui/flows', tracker);
  const row = page.locator('tr', { hasText: FLOW });
  check((await row.count()) === 1, `/ui/flows lists ${FLOW}`);
  check(/yes/.test(await row.innerText()), `/ui/flows shows ${FLOW} enabled: ${await row.innerText()}`);
}

/** A won opportunity in GHL: the run on /ui/runs, its steps on its page, the task in Sellsy. */
export async function winOpportunity(ctx) {
  const { page, tracker, state } = ctx;
  const opp = await ghlOpportunity(`won.${Date.now()}@example.com`);
  await ghlSetStatus(opp.id, 'won');
  const href = await until(
    'the run of the won opportunity on /ui/runs',
    async () => {
      await visit(page, `/ui/runs?flow=${FLOW}&status=ok`, tracker);
      const links = await page.$$eval('main a[href^="/ui/runs/"]', (as) => as.map((a) => a.getAttribute('href')));
      return links.find((h) => /^\/ui\/runs\/\d+$/.test(h));
    },
    45000,
    500,
  );
  const id = Number(href.split('/').pop());
  const run = await api(page, 'GET', `/api/runs/${id}`);
  check(run.status === 200 && run.body.run && run.body.run.status === 'ok', `run ${id} ok: ${JSON.stringify(run.body).slice(0, 400)}`);
  await visit(page, href, tracker);
  const text = await page.locator('main').innerText();
  const steps = run.body.steps ?? [];
  check(steps.length > 0, `run ${id} has steps`);
  for (const s of steps) check(text.includes(s.step_path), `the page of run ${id} shows step ${s.step_path}`);
  await axe(page);
  await shots(page, `run-${id}`);
  const tasks = await until('the Sellsy task of the won opportunity', async () => {
    const t = await tasksFor(opp.id);
    return t.length ? t : null;
  });
  check(tasks.length === 1, `exactly one Sellsy task for ${opp.id}: ${tasks.length}`);
  state.wonOpportunity = opp.id;
  state.sellsyTask = tasks[0].id;
  state.okRun = id;
  log(`won ${opp.id}: run #${id} ok, Sellsy task ${tasks[0].id}`);
}

/** The flow editor's event picker: an event added to a webhook trigger lands in the YAML. */
export async function pickWebhookEvent(ctx) {
  const { page, tracker } = ctx;
  await visit(page, `/ui/flows/new?template=${FLOW}`, tracker);
  const yaml = page.locator('#flow-yaml');
  check(!(await yaml.inputValue()).includes('ContactCreate'), 'the template does not listen to ContactCreate');
  const pick = page.getByLabel('Event to add', { exact: true });
  check((await pick.count()) === 1, 'the webhook trigger has an "Event to add" list');
  const offered = await pick.locator('option').allTextContents();
  check(!offered.includes('OpportunityStatusUpdate'), `the list leaves out the event already chosen: ${offered.join(', ')}`);
  await pick.selectOption('ContactCreate');
  await page.getByRole('button', { name: 'Add event to the trigger', exact: true }).click();
  await until('ContactCreate in the YAML', async () => (await yaml.inputValue()).includes('ContactCreate'), 10000, 100);
  const events = page.locator('[data-path="/trigger/webhook/events"]');
  await until('the events field shows both', async () => {
    const v = await events.inputValue();
    return v.includes('OpportunityStatusUpdate') && v.includes('ContactCreate');
  }, 10000, 100);
  await axe(page);
  await shots(page, 'flow-editor-event-added');
  log('ContactCreate added to the webhook trigger through the picker');
}
