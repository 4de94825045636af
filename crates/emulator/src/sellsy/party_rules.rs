//! Write and search schemas of contacts, companies and individuals, as rule lists.

use super::validation::Kind::{self, *};
use super::validation::{field, nullable, required, Rule, ID, IDS, INT, TEXT};

pub const THIRD_TYPES: &[&str] = &["prospect", "client", "supplier"];
const CIVILITIES: &[&str] = &["mr", "mrs", "ms"];
const CHANNELS: &[&str] = &["sms", "phone", "email", "postal_mail", "custom"];

const fn text(max: usize) -> Kind {
    Str { min: 0, max }
}

const fn exact(len: usize) -> Kind {
    Str { min: len, max: len }
}

pub const SOCIAL: &[Rule] = &[
    nullable("twitter", TEXT),
    nullable("facebook", TEXT),
    nullable("linkedin", TEXT),
    nullable("viadeo", TEXT),
];

pub const SYNC: &[Rule] = &[
    field("mailchimp", Bool),
    field("mailjet", Bool),
    field("simplemail", Bool),
];

const SUBSCRIPTIONS: Kind = Array {
    item: &Enum(CHANNELS),
    max: usize::MAX,
    unique: true,
};

const LEGAL_FRANCE: &[Rule] = &[
    nullable("siret", exact(14)),
    nullable("siren", exact(9)),
    nullable("vat", Str { min: 2, max: 15 }),
    nullable("ape_naf_code", Str { min: 5, max: 6 }),
    nullable("company_type", TEXT),
    nullable("rcs_immatriculation", TEXT),
];

pub const CONTACT_COMMON: &[Rule] = &[
    nullable("civility", Enum(CIVILITIES)),
    nullable("first_name", text(200)),
    nullable("email", Email),
    nullable("website", TEXT),
    nullable("phone_number", TEXT),
    nullable("mobile_number", TEXT),
    nullable("fax_number", TEXT),
    nullable("position", TEXT),
    nullable("birth_date", Date),
    nullable("avatar", TEXT),
    field("note", TEXT),
    field("social", Object(SOCIAL)),
    field("sync", Object(SYNC)),
    field("is_archived", Bool),
    field("marketing_campaigns_subscriptions", SUBSCRIPTIONS),
    nullable("owner_id", ID),
];
pub const CONTACT_CREATE: &[Rule] = &[required("last_name", text(200)), field("created", DateTime)];
/// `created` is read-only on update: checked, then ignored.
pub const CONTACT_UPDATE: &[Rule] = &[nullable("last_name", text(200)), field("created", DateTime)];

/// Shared by companies and individuals.
pub const THIRD_COMMON: &[Rule] = &[
    nullable("email", Email),
    nullable("website", TEXT),
    nullable("phone_number", TEXT),
    nullable("mobile_number", TEXT),
    nullable("fax_number", TEXT),
    nullable("reference", TEXT),
    field("note", TEXT),
    nullable("auxiliary_code", TEXT),
    field("social", Object(SOCIAL)),
    nullable("rate_category_id", INT),
    nullable("accounting_code_id", INT),
    nullable("accounting_purchase_code_id", INT),
    nullable("owner_id", ID),
    field("is_archived", Bool),
    field("marketing_campaigns_subscriptions", SUBSCRIPTIONS),
];

pub const COMPANY_COMMON: &[Rule] = &[
    field("legal_france", Object(LEGAL_FRANCE)),
    nullable("capital", TEXT),
    nullable("business_segment", INT),
    nullable("number_of_employees", INT),
];
pub const COMPANY_CREATE: &[Rule] = &[
    required("type", Enum(THIRD_TYPES)),
    required("name", text(250)),
    field("created", DateTime),
];
pub const COMPANY_UPDATE: &[Rule] = &[field("name", text(250))];

pub const INDIVIDUAL_COMMON: &[Rule] = &[
    nullable("first_name", TEXT),
    nullable("civility", Enum(CIVILITIES)),
    field("sync", Object(SYNC)),
];
pub const INDIVIDUAL_CREATE: &[Rule] = &[
    required("type", Enum(THIRD_TYPES)),
    required("last_name", text(200)),
    field("created", DateTime),
];
pub const INDIVIDUAL_UPDATE: &[Rule] = &[field("last_name", text(200))];

pub const DATE_TIME_RANGE: &[Rule] = &[field("start", DateTime), field("end", DateTime)];
const DATE_RANGE: &[Rule] = &[field("start", Date), field("end", Date)];
const STRINGS: Kind = Array {
    item: &TEXT,
    max: usize::MAX,
    unique: false,
};

const CONTACT_FILTER_FIELDS: &[Rule] = &[
    field("companies", IDS),
    field("individuals", IDS),
    field("created", Object(DATE_TIME_RANGE)),
    field("updated", Object(DATE_TIME_RANGE)),
    field("last_name", TEXT),
    field("birth_date", Object(DATE_RANGE)),
    field("email", TEXT),
    field("phone_number", TEXT),
    field("mobile_number", TEXT),
    field("id", IDS),
    field("favourite_filter", INT),
    field("is_linked", Bool),
    field("country_code", TEXT),
    field("postal_code", STRINGS),
];
pub const CONTACT_FILTERS: &[Rule] = &[required("filters", Object(CONTACT_FILTER_FIELDS))];

const COMPANY_FILTER_FIELDS: &[Rule] = &[
    field("created", Object(DATE_TIME_RANGE)),
    field("updated_at", Object(DATE_TIME_RANGE)),
    field("name", TEXT),
    field("email", TEXT),
    field("type", EnumOrList(THIRD_TYPES)),
    field("is_archived", Bool),
    field("contacts", IDS),
    field("siret", TEXT),
    field("id", IDS),
    field("country_code", TEXT),
    field("postal_code", STRINGS),
    field("favourite_filter", INT),
];
pub const COMPANY_FILTERS: &[Rule] = &[required("filters", Object(COMPANY_FILTER_FIELDS))];

const INDIVIDUAL_FILTER_FIELDS: &[Rule] = &[
    field("created", Object(DATE_TIME_RANGE)),
    field("updated_at", Object(DATE_TIME_RANGE)),
    field("name", TEXT),
    field("email", TEXT),
    field("type", EnumOrList(THIRD_TYPES)),
    field("is_archived", Bool),
    field("id", IDS),
    field("favourite_filter", INT),
];
pub const INDIVIDUAL_FILTERS: &[Rule] = &[required("filters", Object(INDIVIDUAL_FILTER_FIELDS))];
