// The official GHL Node SDK against the emulator: BASE, TOKEN and LOCATION come from the
// environment. Prints one JSON line with what each call returned; exits 1 on any error.
const assert = require('node:assert/strict');
const { HighLevel } = require('@gohighlevel/api-client');

HighLevel.BASE_URL = process.env.BASE;
const location = process.env.LOCATION;

(async () => {
  const ghl = new HighLevel({ privateIntegrationToken: process.env.TOKEN, logLevel: 'none' });
  const email = `sdk${process.pid}@example.com`;
  const created = await ghl.contacts.createContact({ locationId: location, firstName: 'Sdk', email, tags: ['a'] });
  const id = created.contact.id;
  assert.ok(id, 'create returns an id');
  assert.equal((await ghl.contacts.getContact({ contactId: id })).contact.firstName, 'Sdk');
  assert.equal((await ghl.contacts.updateContact({ contactId: id }, { lastName: 'Kit' })).contact.lastName, 'Kit');
  const search = await ghl.contacts.searchContactsAdvanced({
    locationId: location, pageLimit: 10, filters: [{ field: 'email', operator: 'eq', value: email }],
  });
  assert.equal(search.total, 1);
  assert.equal(search.contacts[0].id, id);
  const task = await ghl.contacts.createTask({ contactId: id }, { title: 'T1', dueDate: '2030-01-01T00:00:00Z', completed: false });
  assert.equal((await ghl.contacts.getAllTasks({ contactId: id })).tasks[0].id, task.task.id);
  const note = await ghl.contacts.createNote({ contactId: id }, { body: 'hello' });
  assert.equal((await ghl.contacts.getNote({ contactId: id, id: note.note.id })).note.body, 'hello');
  assert.deepEqual((await ghl.contacts.addTags({ contactId: id }, { tags: ['b'] })).tags.sort(), ['a', 'b']);
  const upsert = await ghl.contacts.upsertContact({ locationId: location, email, city: 'Lyon' });
  assert.equal(upsert.new, false);
  assert.equal(upsert.contact.id, id);
  assert.ok((await ghl.contacts.getContacts({ locationId: location, limit: 5 })).contacts.length >= 1);
  assert.deepEqual(await ghl.contacts.deleteContact({ contactId: id }), { succeded: true });
  let gone = false;
  try { await ghl.contacts.getContact({ contactId: id }); } catch (e) { gone = e.statusCode === 400 || e.statusCode === 404; }
  assert.ok(gone, 'a deleted contact is gone');
  console.log(JSON.stringify({ ok: true, id }));
})().catch((e) => {
  console.error(`official SDK check failed: ${e.message} ${JSON.stringify(e.response || '')}`);
  process.exit(1);
});
