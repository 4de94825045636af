//! What a table operation does to generic state, derived from its path template alone.
//!
//! A path whose last segment is a placeholder (`/products/{productId}`) addresses an
//! **item** of the collection named by the rest (`/products`); `/products/` and
//! `/products` are the same collection. A collection is **creatable** when the table
//! has a `POST` on it *and* an item operation under it: that `POST` creates, a `GET`
//! on it lists. Nested collections work the same way
//! (`/invoices/{invoiceId}/items/{itemId}`): the concrete collection key carries the
//! parent ids, so each parent has its own items.
//!
//! Everything else is an **action** (a verb path such as `/invoices/{id}/send`, a
//! search, a report) or a **singleton** (a literal path with both a read and a write,
//! such as `/store/store-setting`): singletons keep the last body written to them.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use hlbridge_core::optable::{Method, Operation};

/// The generic role of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `POST` on a creatable collection; `id_param` names its items' id.
    Create {
        collection: &'static str,
        id_param: &'static str,
    },
    /// `GET` on a collection that has item operations.
    List { collection: &'static str },
    /// An operation on one item (`GET`/`PUT`/`PATCH`/`DELETE`, or a `POST` to the
    /// item itself). `creatable`: ids come from a create (unknown ids are refused);
    /// otherwise the items live elsewhere (an ad account, a Facebook page…) and any id
    /// is served, with writes kept.
    Item {
        collection: &'static str,
        id_param: &'static str,
        creatable: bool,
    },
    /// A literal path with a `GET` and a write on the same template.
    Singleton { path: &'static str },
    /// Anything else: answered with the success status and a shaped body.
    Action,
}

/// A path template without its trailing slash (`/products/` → `/products`).
pub fn trimmed(path: &'static str) -> &'static str {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        "/"
    } else {
        t
    }
}

fn is_placeholder(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2
}

/// `(collection, id param)` when the last segment of `path` is a placeholder.
pub fn split_item(path: &'static str) -> Option<(&'static str, &'static str)> {
    let t = trimmed(path);
    let cut = t.rfind('/')?;
    let last = &t[cut + 1..];
    if !is_placeholder(last) || cut == 0 {
        return None;
    }
    Some((&t[..cut], &last[1..last.len() - 1]))
}

struct Index {
    /// Templates (trimmed) with the methods the table serves on them.
    methods: HashMap<&'static str, HashSet<Method>>,
    /// Collection template → id param of its item operations (the GET's, if any).
    items: HashMap<&'static str, &'static str>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut methods: HashMap<&'static str, HashSet<Method>> = HashMap::new();
        let mut items: HashMap<&'static str, &'static str> = HashMap::new();
        for op in hlbridge_ghl::TABLE.distinct() {
            methods
                .entry(trimmed(op.path))
                .or_default()
                .insert(op.method);
            if let Some((collection, id)) = split_item(op.path) {
                if op.method == Method::Get || !items.contains_key(collection) {
                    items.insert(collection, id);
                }
            }
        }
        Index { methods, items }
    })
}

/// True when `collection` has a create (`POST` on it) and item operations under it.
pub fn creatable(collection: &str) -> bool {
    let ix = index();
    ix.items.contains_key(collection)
        && ix
            .methods
            .get(collection)
            .is_some_and(|m| m.contains(&Method::Post))
}

/// The generic role of `op`.
pub fn role(op: &Operation) -> Role {
    let ix = index();
    let path = trimmed(op.path);
    // A collection first (`POST /calendars/resources/{resourceType}` creates in the
    // collection of `/calendars/resources/{resourceType}/{id}`), then an item.
    if let Some(id_param) = ix.items.get(path) {
        match op.method {
            Method::Post => {
                return Role::Create {
                    collection: path,
                    id_param,
                }
            }
            Method::Get => return Role::List { collection: path },
            _ => {}
        }
    }
    if let Some((collection, id_param)) = split_item(op.path) {
        return Role::Item {
            collection,
            id_param,
            creatable: creatable(collection),
        };
    }
    let has_get = ix
        .methods
        .get(path)
        .is_some_and(|m| m.contains(&Method::Get));
    let has_write = ix.methods.get(path).is_some_and(|m| {
        m.iter()
            .any(|w| matches!(w, Method::Post | Method::Put | Method::Patch))
    });
    if has_get && has_write {
        Role::Singleton { path }
    } else {
        Role::Action
    }
}

/// Fill a template's placeholders from the request's path parameters (a missing one
/// stays as written, which never collides with a concrete value).
pub fn concrete(template: &str, params: &[(&'static str, String)]) -> String {
    template
        .split('/')
        .map(|seg| {
            if is_placeholder(seg) {
                let name = &seg[1..seg.len() - 1];
                params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.replace('/', "%2F"))
                    .unwrap_or_else(|| seg.to_string())
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str) -> &'static Operation {
        hlbridge_ghl::TABLE.get(id).expect(id)
    }

    #[test]
    fn products_are_a_creatable_collection() {
        assert!(creatable("/products"));
        let create = hlbridge_ghl::TABLE
            .distinct()
            .find(|o| o.method == Method::Post && trimmed(o.path) == "/products")
            .expect("create product");
        assert_eq!(
            role(create),
            Role::Create {
                collection: "/products",
                id_param: "productId"
            }
        );
        let get = hlbridge_ghl::TABLE
            .distinct()
            .find(|o| o.method == Method::Get && o.path == "/products/{productId}")
            .expect("get product");
        assert_eq!(
            role(get),
            Role::Item {
                collection: "/products",
                id_param: "productId",
                creatable: true
            }
        );
    }

    #[test]
    fn verbs_are_actions() {
        let send = hlbridge_ghl::TABLE
            .distinct()
            .find(|o| o.path == "/invoices/{invoiceId}/send")
            .expect("send invoice");
        assert_eq!(role(send), Role::Action);
        assert_eq!(role(op("contacts.bulk-update-tags")).clone(), {
            Role::Item {
                collection: "/contacts/bulk/tags/update",
                id_param: "type",
                creatable: false,
            }
        });
    }

    #[test]
    fn concrete_keys_carry_parent_ids() {
        let params = vec![("invoiceId", "abc".to_string())];
        assert_eq!(
            concrete("/invoices/{invoiceId}/items", &params),
            "/invoices/abc/items"
        );
        assert_eq!(split_item("/contacts/"), None);
        assert_eq!(split_item("/a/{b}/c/{d}/"), Some(("/a/{b}/c", "d")));
    }
}
