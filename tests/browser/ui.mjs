// The browser scenarios of issue #12, in order; exits non-zero on the first failure
// with the step's name and what was expected. Run by crates/service/tests/browser_ui.rs
// (which starts both emulators and the service and sets the HLBRIDGE_* variables).
// It writes what it made (ids on both emulators) to $HLBRIDGE_ARTIFACTS/result.json
// for the Rust test to check from its side.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, log, launch, trackedPage } from './lib.mjs';
import { crawl, signedOut, signIn } from './steps/basics.mjs';
import { connectBoth, createPair } from './steps/connect.mjs';
import { customFields, mapByDragAndDrop, mapByKeyboard, previewAndDryRun, saveMapping } from './steps/mapping.mjs';
import { deploy, pickWebhookEvent, testWithSample, useTemplate, winOpportunity } from './steps/flow.mjs';
import { sellsyContactSynced } from './steps/sync.mjs';
import { activityOfSyncedContact, replayFailedRun, resolveConflict } from './steps/activity.mjs';

const STEPS = [
  ['signed out: / goes to /login with one password field', signedOut],
  ['sign in: /home links the sections', signIn],
  ['crawl every page linked from /home', (ctx) => crawl(ctx, { label: 'crawl' })],
  ['connect GHL and Sellsy through the consent pages', connectBoth],
  ['create a pair', createPair],
  ['custom fields in both accounts; a contact with values in each', customFields],
  ['mapping editor: pair a custom field by drag and drop', mapByDragAndDrop],
  ['mapping editor: pair by keyboard; a type mismatch flagged, then undone', mapByKeyboard],
  ['mapping editor: preview a real contact; dry run', previewAndDryRun],
  ['mapping editor: save; reloaded, still paired', saveMapping],
  ['create a flow from the template gallery', useTemplate],
  ['test the flow with a sample item', testWithSample],
  ['flow editor: add a webhook event through the picker', pickWebhookEvent],
  ['deploy the flow', deploy],
  ['win an opportunity in GHL: the run and the Sellsy task', winOpportunity],
  ['a Sellsy contact synced: in GHL and in its history', sellsyContactSynced],
  ['activity: the synced contact in its cycle, found through the filters', activityOfSyncedContact],
  ['resolve a conflict: both values side by side, Sellsy kept on both sides', resolveConflict],
  ['replay a failed run from its failed step once the cause is fixed', replayFailedRun],
  ['crawl again with data on every page', (ctx) => crawl(ctx, { label: 'crawl-after' })],
];

async function main() {
  const only = process.env.HLBRIDGE_UI_STEPS ? Number(process.env.HLBRIDGE_UI_STEPS) : STEPS.length;
  const browser = await launch();
  const state = {};
  let current = '(start)';
  const started = Date.now();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const { page, tracker } = await trackedPage(context);
    const ctx = { page, tracker, state };
    for (const [name, step] of STEPS.slice(0, only)) {
      current = name;
      const t = Date.now();
      await step(ctx);
      tracker.assertClean(name);
      log(`ok   ${name} (${Date.now() - t} ms)`);
    }
    current = '(done)';
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'result.json'), JSON.stringify(state, null, 2));
    log(`all ${Math.min(only, STEPS.length)} steps passed in ${Date.now() - started} ms; artifacts in ${ARTIFACTS}`);
  } catch (e) {
    console.error(`[browser] FAILED at step "${current}": ${e && e.message ? e.message : e}`);
    if (e && e.stack && !(e.name === 'Failure')) console.error(e.stack);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
