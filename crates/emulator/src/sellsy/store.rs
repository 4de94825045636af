//! The emulator's in-memory data: one table per resource plus the link sets.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// A stored object, as rendered (minus `_embed`).
pub type Record = Map<String, Value>;

/// Rows of one resource, keyed by id, with its own id sequence.
#[derive(Debug, Default)]
pub struct Table {
    pub rows: BTreeMap<i64, Record>,
    last_id: i64,
}

impl Table {
    /// Store `record` under a fresh id (written into its `id` field); returns the id.
    pub fn insert(&mut self, mut record: Record) -> i64 {
        self.last_id += 1;
        let id = self.last_id;
        record.insert("id".into(), Value::from(id));
        self.rows.insert(id, record);
        id
    }

    /// The id the next insert will use.
    pub fn peek_next_id(&self) -> i64 {
        self.last_id + 1
    }

    pub fn get(&self, id: i64) -> Option<&Record> {
        self.rows.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut Record> {
        self.rows.get_mut(&id)
    }

    pub fn remove(&mut self, id: i64) -> Option<Record> {
        self.rows.remove(&id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.rows.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Objects that carry custom-field values and smart tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    Contact,
    Company,
    Individual,
}

#[derive(Debug, Default)]
pub struct Store {
    pub contacts: Table,
    pub companies: Table,
    pub individuals: Table,
    /// Contact addresses; the owning contact is in `address_contact`.
    pub addresses: Table,
    pub address_contact: BTreeMap<i64, i64>,
    /// `{id, value}` smart tags.
    pub smart_tags: Table,
    /// (owner kind, owner id, tag id).
    pub tag_links: BTreeSet<(Owner, i64, i64)>,
    /// (company id, contact id) → the link body last sent.
    pub company_contacts: BTreeMap<(i64, i64), Value>,
    /// (individual id, contact id).
    pub individual_contacts: BTreeSet<(i64, i64)>,
    /// Custom-field definitions.
    pub custom_fields: Table,
    /// (owner kind, owner id, field id) → value in its read shape.
    pub custom_field_values: BTreeMap<(Owner, i64, i64), Value>,
    pub tasks: Table,
    pub task_labels: Table,
    pub comments: Table,
    pub webhooks: Table,
    pub staffs: Table,
}

impl Store {
    pub fn owner_table(&self, owner: Owner) -> &Table {
        match owner {
            Owner::Contact => &self.contacts,
            Owner::Company => &self.companies,
            Owner::Individual => &self.individuals,
        }
    }

    pub fn owner_table_mut(&mut self, owner: Owner) -> &mut Table {
        match owner {
            Owner::Contact => &mut self.contacts,
            Owner::Company => &mut self.companies,
            Owner::Individual => &mut self.individuals,
        }
    }

    /// Drop everything that points at a deleted owner (tags, values, links, addresses).
    pub fn forget_owner(&mut self, owner: Owner, id: i64) {
        self.tag_links
            .retain(|(o, oid, _)| !(*o == owner && *oid == id));
        self.custom_field_values
            .retain(|(o, oid, _), _| !(*o == owner && *oid == id));
        match owner {
            Owner::Contact => {
                self.company_contacts
                    .retain(|(_, contact), _| *contact != id);
                self.individual_contacts
                    .retain(|(_, contact)| *contact != id);
                let addresses: Vec<i64> = self
                    .address_contact
                    .iter()
                    .filter(|(_, c)| **c == id)
                    .map(|(a, _)| *a)
                    .collect();
                for a in addresses {
                    self.addresses.remove(a);
                    self.address_contact.remove(&a);
                }
                for third in self
                    .companies
                    .rows
                    .values_mut()
                    .chain(self.individuals.rows.values_mut())
                {
                    for role in [
                        "main_contact_id",
                        "dunning_contact_id",
                        "invoicing_contact_id",
                    ] {
                        if third.get(role).and_then(Value::as_i64) == Some(id) {
                            third.insert(role.into(), Value::Null);
                        }
                    }
                }
            }
            Owner::Company => self
                .company_contacts
                .retain(|(company, _), _| *company != id),
            Owner::Individual => self
                .individual_contacts
                .retain(|(individual, _)| *individual != id),
        }
    }
}

/// JSON-pointer lookup on a record (`/owner/id`), as `Value::pointer` does.
pub trait Pointer {
    fn pointer(&self, pointer: &str) -> Option<&Value>;
}

impl Pointer for Record {
    fn pointer(&self, pointer: &str) -> Option<&Value> {
        let rest = pointer.strip_prefix('/')?;
        let (first, tail) = rest
            .split_once('/')
            .map_or((rest, None), |(a, b)| (a, Some(b)));
        let value = self.get(first)?;
        match tail {
            None => Some(value),
            Some(tail) => value.pointer(&format!("/{tail}")),
        }
    }
}
