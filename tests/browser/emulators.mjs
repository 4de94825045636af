// Acting on the emulators directly, as a person would in GoHighLevel or Sellsy:
// a GHL contact with an opportunity, won; a Sellsy contact; the Sellsy tasks.
import { check, env, http } from './lib.mjs';

export const GHL_BASE = env('HLBRIDGE_GHL_BASE').replace(/\/$/, '');
const GHL_TOKEN = env('HLBRIDGE_GHL_TOKEN');
export const GHL_LOCATION = env('HLBRIDGE_GHL_LOCATION');
export const SELLSY_BASE = env('HLBRIDGE_SELLSY_BASE').replace(/\/$/, '');
const SELLSY_CLIENT_ID = env('HLBRIDGE_SELLSY_CLIENT_ID');
const SELLSY_CLIENT_SECRET = env('HLBRIDGE_SELLSY_CLIENT_SECRET');

const ghlHeaders = { version: '2021-07-28' };

function ghl(method, path, body) {
  return http(method, GHL_BASE + path, { token: GHL_TOKEN, body, headers: ghlHeaders });
}

/** A GHL contact with an open opportunity in the first pipeline. */
export async function ghlOpportunity(email) {
  const contact = await ghl('POST', '/contacts/', {
    firstName: 'Ada',
    lastName: 'Browser',
    email,
    locationId: GHL_LOCATION,
  });
  const contactId = contact?.contact?.id;
  check(contactId, `GHL create contact returned no id: ${JSON.stringify(contact)}`);
  const pipelines = await ghl('GET', `/opportunities/pipelines?locationId=${encodeURIComponent(GHL_LOCATION)}`);
  const pipeline = pipelines?.pipelines?.[0];
  check(pipeline, `GHL has no pipeline: ${JSON.stringify(pipelines)}`);
  const opp = await ghl('POST', '/opportunities/', {
    pipelineId: pipeline.id,
    pipelineStageId: pipeline.stages[0].id,
    locationId: GHL_LOCATION,
    name: 'Browser deal',
    status: 'open',
    contactId,
    monetaryValue: 1500,
  });
  const id = opp?.opportunity?.id;
  check(id, `GHL create opportunity returned no id: ${JSON.stringify(opp)}`);
  return { id, contactId };
}

export async function ghlSetStatus(opportunity, status) {
  await ghl('PUT', `/opportunities/${encodeURIComponent(opportunity)}/status`, { status });
}

let sellsyToken;
async function sellsyAuth() {
  if (sellsyToken) return sellsyToken;
  const oauth = SELLSY_BASE.replace(/\/v2$/, '/oauth2');
  const t = await http('POST', `${oauth}/access-tokens`, {
    body: { grant_type: 'client_credentials', client_id: SELLSY_CLIENT_ID, client_secret: SELLSY_CLIENT_SECRET },
  });
  check(t?.access_token, 'Sellsy client credentials gave no access_token');
  sellsyToken = t.access_token;
  return sellsyToken;
}

async function sellsy(method, path, body) {
  return http(method, SELLSY_BASE + path, { token: await sellsyAuth(), body });
}

export async function sellsyContact(first, last, email) {
  const c = await sellsy('POST', '/contacts', { first_name: first, last_name: last, email });
  check(c?.id, `Sellsy create contact returned no id: ${JSON.stringify(c)}`);
  return c;
}

export async function sellsyTasks() {
  const out = await sellsy('GET', '/tasks?limit=100');
  return out?.data ?? [];
}

/** The Sellsy tasks the flow made for GHL opportunity `opp` (its marker). */
export async function tasksFor(opp) {
  const marker = `[ghl-opportunity:${opp}]`;
  return (await sellsyTasks()).filter((t) => (t.description ?? '').includes(marker));
}

/** The GHL contact with e-mail `email`, or null. */
export async function ghlFindContact(email) {
  const out = await ghl('POST', '/contacts/search', { locationId: GHL_LOCATION, query: email, pageLimit: 10 });
  return (out?.contacts ?? []).find((c) => (c.email ?? '').toLowerCase() === email.toLowerCase()) ?? null;
}

/** A contact custom field of the GHL location (`dataType` TEXT, NUMERICAL ...): its key. */
export async function ghlCustomField(name, dataType) {
  const out = await ghl('POST', `/locations/${encodeURIComponent(GHL_LOCATION)}/customFields`, { name, dataType, model: 'contact' });
  const key = out?.customField?.fieldKey;
  check(key, `GHL create custom field ${name} returned no fieldKey: ${JSON.stringify(out)}`);
  return { id: out.customField.id, key };
}

/** A GHL contact with custom values `custom` ({ key: value }, keys without `contact.`). */
export async function ghlContactWith(first, last, email, custom) {
  const customFields = Object.entries(custom).map(([key, field_value]) => ({ key, field_value }));
  const out = await ghl('POST', '/contacts/', { firstName: first, lastName: last, email, locationId: GHL_LOCATION, customFields });
  const id = out?.contact?.id;
  check(id, `GHL create contact returned no id: ${JSON.stringify(out)}`);
  return id;
}

/** Sets custom values ({ key: value }) on GHL contact `id`. */
export async function ghlSetCustom(id, custom) {
  const customFields = Object.entries(custom).map(([key, field_value]) => ({ key, field_value }));
  await ghl('PUT', `/contacts/${encodeURIComponent(id)}`, { customFields });
}

/** The Sellsy custom field definition with code `code` (read live), or null. */
export async function sellsyCustomField(code) {
  const out = await sellsy('GET', '/custom-fields?limit=100');
  return (out?.data ?? []).find((d) => d.code === code) ?? null;
}


/** GHL contact `id` as GHL returns it (website, customFields [{ id, value }] ...). */
export async function ghlContact(id) {
  const out = await ghl('GET', `/contacts/${encodeURIComponent(id)}`);
  check(out?.contact, `GHL contact ${id}: ${JSON.stringify(out)}`);
  return out.contact;
}

/** Changes GHL contact `id` (standard fields, e.g. { website }), as a person in GHL. */
export async function ghlUpdateContact(id, fields) {
  await ghl('PUT', `/contacts/${encodeURIComponent(id)}`, fields);
}

/** The notes of GHL contact `id`. */
export async function ghlNotes(id) {
  const out = await ghl('GET', `/contacts/${encodeURIComponent(id)}/notes`);
  return out?.notes ?? [];
}

/** Sellsy contact `id` as Sellsy returns it. */
export async function sellsyGetContact(id) {
  return sellsy('GET', `/contacts/${encodeURIComponent(id)}`);
}

/** Changes Sellsy contact `id` (e.g. { website }), as a person in Sellsy. */
export async function sellsyUpdateContact(id, fields) {
  await sellsy('PUT', `/contacts/${encodeURIComponent(id)}`, fields);
}

/** Sets custom values ([{ id: definition id, value }]) on Sellsy contact `id`. */
export async function sellsySetCustom(id, values) {
  await sellsy('PUT', `/contacts/${encodeURIComponent(id)}/custom-fields`, values);
}

/** The Sellsy contacts with e-mail `email` (Sellsy's exact-match search filter). */
export async function sellsyFindContacts(email) {
  const out = await sellsy('POST', '/contacts/search?limit=10', { filters: { email } });
  return (out?.data ?? []).filter((c) => (c.email ?? '').toLowerCase() === email.toLowerCase());
}
