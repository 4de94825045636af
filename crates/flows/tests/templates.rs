//! Flow templates: filters, strict undefined, sandbox limits, typed rendering, check,
//! conditions.

use hlbridge_flows::model::{Condition, Conditions, Op, Test};
use hlbridge_flows::template::{eval_conditions, Templates, FILTERS, MAX_OUTPUT};
use proptest::prelude::*;
use serde_json::{json, Value};

const ROOTS: &[&str] = &[
    "trigger", "steps", "pair", "now", "item", "index", "error", "previous",
];

fn scope() -> Value {
    json!({
        "trigger": {
            "name": "Marie Curie",
            "amount": 12.5,
            "count": 3,
            "tags": ["VIP", "lead"],
            "tag_text": "vip, Newsletter",
            "nested": {"a": 1},
            "empty": "",
            "nothing": null,
            "phone": "06 12 34 56 78",
            "customFields": [
                {"id": "cf1", "key": "contact.budget", "value": 5000},
                {"id": "cf2", "value": "blue"}
            ],
            "_embed": {"custom_fields": [{"id": 7, "code": "size", "value": "XL"}]},
            "json": "{\"a\": [1, 2]}",
            "created": "2024-05-01T10:00:00.000Z"
        },
        "steps": {"find": {"id": 42}},
        "now": "2024-05-01T10:00:00Z",
    })
}

fn r(t: &str) -> Value {
    Templates::new()
        .render_str(t, &scope())
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn s(t: &str) -> String {
    match r(t) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn err(t: &str) -> String {
    match Templates::new().render_str(t, &scope()) {
        Ok(v) => panic!("{t}: expected an error, got {v}"),
        Err(e) => e.message,
    }
}

#[test]
fn typed_rendering() {
    assert_eq!(r("Hello {{ trigger.name }}"), json!("Hello Marie Curie"));
    assert_eq!(r("{{ trigger.amount }}"), json!(12.5));
    assert_eq!(r("{{trigger.count}}"), json!(3));
    assert_eq!(r("{{ trigger.tags }}"), json!(["VIP", "lead"]));
    assert_eq!(r("{{ trigger.nested }}"), json!({"a": 1}));
    assert_eq!(r("{{ none }}"), Value::Null);
    assert_eq!(r("{{ trigger.nothing }}"), Value::Null);
    assert_eq!(r("{{ trigger.missing | default(none) }}"), Value::Null);
    assert_eq!(r("{{ trigger.count }} items"), json!("3 items"));
    assert_eq!(r(" {{ trigger.count }}"), json!(" 3"));
    assert_eq!(r("{{ trigger.count }}{{ trigger.count }}"), json!("33"));
    assert_eq!(r("plain"), json!("plain"));
    assert_eq!(
        r("{% if trigger.count > 2 %}many{% endif %}"),
        json!("many")
    );
    let t = Templates::new();
    let out = t
        .render(&json!({"a": "{{ trigger.count }}", "b": ["x{{ index }}", 5, true], "c": {"d": "{{ steps.find.id }}"}}),
            &json!({"trigger": {"count": 3}, "index": 1, "steps": {"find": {"id": 42}}}))
        .unwrap();
    assert_eq!(out, json!({"a": 3, "b": ["x1", 5, true], "c": {"d": 42}}));
}

#[test]
fn strict_undefined_and_default() {
    assert!(
        err("{{ trigger.missing }}").contains("undefined"),
        "{}",
        err("{{ trigger.missing }}")
    );
    assert!(err("x {{ trigger.missing.deep }}").contains("undefined"));
    assert!(err("{% for x in trigger.missing %}{{ x }}{% endfor %}").contains("undefined"));
    assert!(err("{{ nope }}").contains("undefined"));
    assert_eq!(r("{{ trigger.missing | default('x') }}"), json!("x"));
    assert_eq!(
        r("{{ trigger.missing.deep.er | default('x') }}"),
        json!("x")
    );
    assert_eq!(
        r("{{ trigger['missing'].deep | default('x') }}"),
        json!("x")
    );
    assert_eq!(
        r("{{ trigger.tags[5].x | default('none here') }}"),
        json!("none here")
    );
    assert_eq!(
        r("a {{ trigger.missing.deep | default('x') | upper }} b"),
        json!("a X b")
    );
    assert_eq!(r("{{ trigger.nested.a | default(9) }}"), json!(1));
    assert_eq!(r("{{ trigger.empty | default('x', true) }}"), json!("x"));
    assert_eq!(r("{{ nope.x | d('y') }}"), json!("y"));
}

#[test]
fn sandbox_limits() {
    let fuel = err("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}");
    assert!(fuel.contains("fuel"), "{fuel}");
    let big = err("{% for i in range(5000) %}{{ 'x' * 1000 }}{% endfor %}");
    assert!(
        big.contains("1 MiB") && big.contains(&MAX_OUTPUT.to_string()),
        "{big}"
    );
    // Output stops at the cap; a huge loop does not build its whole text first.
    let huge = err("{% for i in range(10000) %}{{ 'x' * 10000000 }}{% endfor %}");
    assert!(huge.contains("1 MiB"), "{huge}");
    let typed = err("{{ 'x' * 2000000 }}");
    assert!(
        typed.contains("1 MiB") || typed.contains("too large"),
        "{typed}"
    );
    let rec = err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    assert!(
        rec.to_lowercase().contains("recursion") || rec.contains("fuel"),
        "{rec}"
    );
    // No loader: includes and imports have nothing to load.
    assert!(!err("{% include 'x.html' %}").is_empty());
    // Data is never evaluated as a template.
    let t = Templates::new();
    let v = t
        .render_str(
            "{{ trigger.evil }}",
            &json!({"trigger": {"evil": "{{ 7 * 7 }}"}}),
        )
        .unwrap();
    assert_eq!(v, json!("{{ 7 * 7 }}"));
}

#[test]
fn date_filters() {
    assert_eq!(
        s("{{ '2024-05-01 10:00:00' | date }}"),
        "2024-05-01T10:00:00Z"
    );
    assert_eq!(s("{{ '2024-05-01' | date }}"), "2024-05-01T00:00:00Z");
    assert_eq!(s("{{ trigger.created | date }}"), "2024-05-01T10:00:00Z");
    assert_eq!(
        s("{{ '2024-05-01T12:00:00+02:00' | date }}"),
        "2024-05-01T10:00:00Z"
    );
    assert_eq!(
        s("{{ '2024-05-01T12:00:00+0200' | date }}"),
        "2024-05-01T10:00:00Z"
    );
    assert_eq!(s("{{ '01/05/2024' | date }}"), "2024-05-01T00:00:00Z");
    assert_eq!(s("{{ 1714557600 | date }}"), "2024-05-01T10:00:00Z");
    assert_eq!(s("{{ 1714557600123 | date }}"), "2024-05-01T10:00:00.123Z");
    assert_eq!(s("{{ '1714557600' | date }}"), "2024-05-01T10:00:00Z");
    assert!(err("{{ 'soon' | date }}").contains("filter `date`: expected a date"));
    assert!(err("{{ trigger.tags | date }}").contains("`date`"));

    assert_eq!(
        s("{{ now | format_date('%d/%m/%Y %H:%M', tz='Europe/Paris') }}"),
        "01/05/2024 12:00"
    );
    assert_eq!(s("{{ now | format_date('%Y-%m-%d') }}"), "2024-05-01");
    assert_eq!(
        s("{{ '2024-05-01T23:30:00Z' | format_date('%Y-%m-%d', 'Europe/Paris') }}"),
        "2024-05-02"
    );
    assert!(err("{{ now | format_date('%Y', tz='Mars/Olympus') }}").contains("unknown time zone"));
    assert!(err("{{ now | format_date('%Y', zone='UTC') }}").contains("zone"));
    assert!(err("{{ now | format_date('%Q') }}").contains("format_date"));

    // Europe/Paris switches to summer time on 2024-03-31 at 02:00 local (01:00 UTC).
    assert_eq!(
        s("{{ '2024-03-31T00:30:00Z' | to_tz('Europe/Paris') }}"),
        "2024-03-31T01:30:00+01:00"
    );
    assert_eq!(
        s("{{ '2024-03-31T01:30:00Z' | to_tz('Europe/Paris') }}"),
        "2024-03-31T03:30:00+02:00"
    );
    assert_eq!(
        s("{{ '2024-10-27T01:30:00Z' | to_tz('Europe/Paris') }}"),
        "2024-10-27T02:30:00+01:00"
    );
    assert!(err("{{ now | to_tz('Nowhere') }}").contains("to_tz"));

    assert_eq!(s("{{ now | add_days(7) }}"), "2024-05-08T10:00:00Z");
    assert_eq!(s("{{ now | add_days(-1) }}"), "2024-04-30T10:00:00Z");
    // 09:00 Paris on the 30th → 09:00 Paris on the 31st (23 hours later across DST).
    assert_eq!(
        s("{{ '2024-03-30T08:00:00Z' | add_days(1, tz='Europe/Paris') }}"),
        "2024-03-31T07:00:00Z"
    );
    assert_eq!(
        s("{{ '2024-03-30T08:00:00Z' | add_days(1) }}"),
        "2024-03-31T08:00:00Z"
    );
    assert_eq!(s("{{ now | add_hours(3) }}"), "2024-05-01T13:00:00Z");
    assert_eq!(s("{{ now | add_minutes(-90) }}"), "2024-05-01T08:30:00Z");
    assert!(err("{{ now | add_hours('x') }}").contains("add_hours"));
    assert!(err("{{ 'x' | add_minutes(1) }}").contains("add_minutes"));
}

#[test]
fn people_and_text_filters() {
    assert_eq!(s("{{ trigger.phone | e164 }}"), "+33612345678");
    assert_eq!(s("{{ '+33 6 12 34 56 78' | e164 }}"), "+33612345678");
    assert_eq!(
        s("{{ '(415) 555-2671' | e164(region='US') }}"),
        "+14155552671"
    );
    assert_eq!(
        s("{{ '415-555-2671' | e164(region='us') }}"),
        "+14155552671"
    );
    assert!(err("{{ 'hello' | e164 }}")
        .contains("filter `e164`: expected a phone number valid in region FR"));
    assert!(err("{{ '12' | e164 }}").contains("e164"));
    assert!(err("{{ trigger.phone | e164(region='ZZZ') }}").contains("unknown region"));

    assert_eq!(s("{{ trigger.name | first_name }}"), "Marie");
    assert_eq!(s("{{ trigger.name | last_name }}"), "Curie");
    assert_eq!(
        s("{{ 'Jean-Pierre de la Fontaine' | last_name }}"),
        "de la Fontaine"
    );
    assert_eq!(s("{{ 'Curie, Marie' | first_name }}"), "Marie");
    assert_eq!(s("{{ 'Cher' | last_name }}"), "");
    assert!(err("{{ trigger.tags | first_name }}").contains("first_name"));
    assert_eq!(s("{{ 'Marie' | join_name('Curie') }}"), "Marie Curie");
    assert_eq!(s("{{ 'Marie' | join_name(none) }}"), "Marie");

    assert_eq!(s("{{ 'Été à Paris!' | slug }}"), "ete-a-paris");
    assert_eq!(s("{{ '  --Hello,  World 42 ' | slug }}"), "hello-world-42");
    assert!(err("{{ trigger.nested | slug }}").contains("slug"));
    assert_eq!(
        s("{{ 'AbC' | lower }}|{{ 'abc' | upper }}|{{ 'hello world' | title }}"),
        "abc|ABC|Hello World"
    );
    assert_eq!(r("{{ 'a,b,c' | split(',') }}"), json!(["a", "b", "c"]));
    assert_eq!(s("{{ trigger.tags | join(', ') }}"), "VIP, lead");
    assert_eq!(
        s("{{ trigger.tags | first }}-{{ trigger.tags | last }}"),
        "VIP-lead"
    );
    assert_eq!(r("{{ trigger.tags | length }}"), json!(2));
    assert_eq!(r("{{ [] | first | default('none') }}"), json!("none"));
}

#[test]
fn app_and_json_filters() {
    assert_eq!(
        r("{{ trigger | ghl_custom_field('contact.budget') }}"),
        json!(5000)
    );
    assert_eq!(r("{{ trigger | ghl_custom_field('budget') }}"), json!(5000));
    assert_eq!(r("{{ trigger | ghl_custom_field('cf2') }}"), json!("blue"));
    assert_eq!(
        r("{{ trigger.customFields | ghl_custom_field('cf1') }}"),
        json!(5000)
    );
    assert_eq!(r("{{ trigger | ghl_custom_field('nope') }}"), Value::Null);
    assert!(err("{{ 'x' | ghl_custom_field('a') }}").contains("ghl_custom_field"));
    assert_eq!(
        r("{{ trigger | sellsy_custom_field('size') }}"),
        json!("XL")
    );
    assert_eq!(
        r("{{ trigger._embed.custom_fields | sellsy_custom_field('7') }}"),
        json!("XL")
    );
    assert_eq!(
        r("{{ trigger | sellsy_custom_field('nope') }}"),
        Value::Null
    );
    assert!(err("{{ 3 | sellsy_custom_field('a') }}").contains("sellsy_custom_field"));

    let list = "[{'id': '1', 'label': 'Silver'}, {'id': 2, 'label': 'Gold'}]";
    assert_eq!(s(&format!("{{{{ 2 | choice_label({list}) }}}}")), "Gold");
    assert_eq!(
        s(&format!("{{{{ '1' | choice_label({list}) }}}}")),
        "Silver"
    );
    assert_eq!(
        r(&format!("{{{{ ' gold ' | choice_id({list}) }}}}")),
        json!(2)
    );
    assert_eq!(
        r("{{ ['a', 'b'] | choice_label({'a': 'A', 'b': 'B'}) }}"),
        json!(["A", "B"])
    );
    assert_eq!(r("{{ 'B' | choice_id({'a': 'A', 'b': 'B'}) }}"), json!("b"));
    assert!(err(&format!("{{{{ 9 | choice_label({list}) }}}}")).contains("choice_label"));
    assert!(err("{{ 1 | choice_label('x') }}").contains("choice_label"));

    assert_eq!(r("{{ trigger | json_path('$.nested.a') }}"), json!(1));
    assert_eq!(r("{{ trigger | json_path('$.tags[-1]') }}"), json!("lead"));
    assert_eq!(
        r("{{ trigger | json_path(\"$['customFields'][0].id\") }}"),
        json!("cf1")
    );
    assert_eq!(
        r("{{ trigger | json_path('$.customFields[*].id') }}"),
        json!(["cf1", "cf2"])
    );
    assert_eq!(r("{{ trigger | json_path('$.nope.x') }}"), Value::Null);
    assert!(err("{{ trigger | json_path('nested') }}").contains("json_path"));
    assert!(err("{{ trigger | json_path('$.a[x]') }}").contains("json_path"));

    assert_eq!(r("{{ trigger.json | fromjson }}"), json!({"a": [1, 2]}));
    assert_eq!(r("{{ (trigger.json | fromjson).a[1] }}"), json!(2));
    assert!(err("{{ 'nope' | fromjson }}").contains("fromjson"));
    assert!(err("{{ 3 | fromjson }}").contains("fromjson"));
    assert_eq!(s("{{ trigger.nested | tojson }}"), "{\"a\":1}");
}

#[test]
fn every_filter_is_registered() {
    let t = Templates::new();
    for f in FILTERS {
        let src = format!("{{{{ x | {f} }}}}");
        assert!(t.check(&src, &["x"]).is_ok(), "{f}");
        // Registered in the environment (an unknown filter would fail at render).
        if let Err(e) = t.render_str(&src, &json!({"x": "2024-05-01"})) {
            assert!(!e.message.contains("unknown filter"), "{f}: {e}");
        }
    }
}

#[test]
fn check_reports_offsets() {
    let t = Templates::new();
    assert!(t
        .check(
            "Hi {{ trigger.name | upper }} {% if steps.a %}x{% endif %}",
            ROOTS
        )
        .is_ok());
    assert!(t
        .check(
            "{% for i in trigger.items %}{{ i }}{{ loop.index }}{% endfor %}",
            ROOTS
        )
        .is_ok());
    assert!(t
        .check("{% set x = 1 %}{{ x }}{{ range(3) | list }}", ROOTS)
        .is_ok());

    let e = t.check("Hi {{ trigger.name | uper }}", ROOTS).unwrap_err();
    assert!(
        e.message.contains("unknown filter `uper`") && e.message.contains("did you mean `upper`"),
        "{e}"
    );
    assert_eq!(e.offset, Some(21));

    let e = t
        .check("ab\n{% if trigger.x is nonsense %}{% endif %}", ROOTS)
        .unwrap_err();
    assert!(e.message.contains("unknown test `nonsense`"), "{e}");
    assert_eq!(e.offset, Some(22));
    assert_eq!(
        &"ab\n{% if trigger.x is nonsense %}{% endif %}"[22..30],
        "nonsense"
    );

    let e = t.check("Hello {{ trigerr.name }}", ROOTS).unwrap_err();
    assert!(
        e.message.contains("unknown variable `trigerr`")
            && e.message.contains("did you mean `trigger`"),
        "{e}"
    );
    assert_eq!(e.offset, Some(9));

    let e = t.check("line one\n{{ trigger.name ", ROOTS).unwrap_err();
    assert!(e.message.contains("syntax error"), "{e}");
    let at = e.offset.expect("offset");
    assert!(at >= 9, "{at}");

    let e = t.check("{{ 1 + }}", ROOTS).unwrap_err();
    assert!(
        e.message.contains("syntax error") && e.offset.is_some(),
        "{e:?}"
    );
    assert!(t.check("{{ item }}", &["trigger"]).is_err());
}

fn test(value: &str, op: Op, arg: Option<Value>) -> Conditions {
    Conditions::All(vec![Condition::Test(Test {
        value: value.into(),
        op,
        arg,
    })])
}

fn holds(value: &str, op: Op, arg: Option<Value>) -> bool {
    eval_conditions(&Templates::new(), &test(value, op, arg), &scope())
        .unwrap_or_else(|e| panic!("{value}: {e}"))
}

#[test]
fn condition_ops() {
    use Op::*;
    assert!(holds(
        "{{ trigger.name }}",
        Equals,
        Some(json!("Marie Curie"))
    ));
    assert!(holds("{{ trigger.count }}", Equals, Some(json!("3"))));
    assert!(holds(
        "{{ trigger.count }}",
        Equals,
        Some(json!("{{ 1 + 2 }}"))
    ));
    assert!(!holds("{{ trigger.missing }}", Equals, Some(json!("x"))));
    assert!(holds(
        "{{ trigger.name }}",
        NotEquals,
        Some(json!("Pierre"))
    ));
    assert!(holds("{{ trigger.missing }}", NotEquals, Some(json!("x"))));
    assert!(holds("{{ trigger.name }}", Contains, Some(json!("Cur"))));
    assert!(holds("{{ trigger.tags }}", Contains, Some(json!("VIP"))));
    assert!(!holds("{{ trigger.tags }}", Contains, Some(json!("vi"))));
    assert!(!holds(
        "{{ trigger.missing.deep }}",
        Contains,
        Some(json!("x"))
    ));
    assert!(holds("{{ trigger.name }}", StartsWith, Some(json!("Mar"))));
    assert!(!holds("{{ trigger.name }}", StartsWith, Some(json!("Cur"))));
    assert!(holds("{{ trigger.name }}", Exists, None));
    assert!(!holds("{{ trigger.nothing }}", Exists, None));
    assert!(!holds("{{ trigger.missing.deep }}", Exists, None));
    for v in [
        "{{ trigger.empty }}",
        "{{ trigger.nothing }}",
        "{{ trigger.missing }}",
        "{{ [] }}",
        "{{ {} }}",
    ] {
        assert!(holds(v, Empty, None), "{v}");
    }
    assert!(!holds("{{ trigger.name }}", Empty, None));
    assert!(holds("{{ trigger.amount }}", GreaterThan, Some(json!(10))));
    assert!(holds("{{ trigger.amount }}", LessThan, Some(json!("13"))));
    assert!(!holds("{{ trigger.amount }}", LessThan, Some(json!(12.5))));
    assert!(holds(
        "{{ trigger.created }}",
        GreaterThan,
        Some(json!("2024-04-30"))
    ));
    assert!(holds(
        "{{ trigger.created }}",
        LessThan,
        Some(json!("{{ now | add_days(1) }}"))
    ));
    assert!(!holds("{{ trigger.missing }}", GreaterThan, Some(json!(1))));
    let e = eval_conditions(
        &Templates::new(),
        &test("{{ trigger.name }}", GreaterThan, Some(json!(1))),
        &scope(),
    );
    assert!(e.unwrap_err().message.contains("greater_than"));
    assert!(holds("{{ trigger.count }}", In, Some(json!([1, 2, 3]))));
    assert!(holds(
        "{{ trigger.name }}",
        In,
        Some(json!("Pierre, Marie Curie"))
    ));
    assert!(!holds("{{ trigger.count }}", In, Some(json!([4]))));
    assert!(holds("{{ trigger.tags }}", TagPresent, Some(json!("vip"))));
    assert!(holds(
        "{{ trigger.tag_text }}",
        TagPresent,
        Some(json!("NEWSLETTER"))
    ));
    assert!(!holds(
        "{{ trigger.tags }}",
        TagPresent,
        Some(json!("cold"))
    ));
    assert!(!holds(
        "{{ trigger.missing }}",
        TagPresent,
        Some(json!("vip"))
    ));
    let e = eval_conditions(
        &Templates::new(),
        &test("{{ trigger.name }}", Equals, None),
        &scope(),
    );
    assert!(e.unwrap_err().message.contains("arg"));
}

#[test]
fn condition_groups_and_changed() {
    let t = Templates::new();
    let c: Conditions = serde_json::from_value(json!({"any": [
        {"value": "{{ trigger.count }}", "op": "equals", "arg": 9},
        {"all": [
            {"value": "{{ trigger.name }}", "op": "exists"},
            {"value": "{{ trigger.tags }}", "op": "tag_present", "arg": "lead"}
        ]}
    ]}))
    .unwrap();
    assert!(eval_conditions(&t, &c, &scope()).unwrap());

    let mut sc = json!({"trigger": {"stage": "won", "amount": 5}, "previous": {"stage": "open", "amount": 5}});
    let changed = |arg: Option<Value>, sc: &Value| {
        eval_conditions(&t, &test("{{ trigger.stage }}", Op::Changed, arg), sc).unwrap()
    };
    assert!(changed(None, &sc));
    assert!(changed(Some(json!({"from": "open", "to": "won"})), &sc));
    assert!(changed(Some(json!({"to": "won"})), &sc));
    assert!(!changed(Some(json!({"from": "lost"})), &sc));
    assert!(!changed(Some(json!({"to": "lost"})), &sc));
    assert!(!eval_conditions(&t, &test("{{ trigger.amount }}", Op::Changed, None), &sc).unwrap());
    sc["previous"] = json!({"amount": 5});
    assert!(changed(Some(json!({"from": null})), &sc));
    sc["previous"] = Value::Null;
    assert!(!changed(None, &sc));
    assert!(eval_conditions(
        &t,
        &test("{{ trigger.stage }}", Op::Changed, Some(json!({"bad": 1}))),
        &json!({"trigger": {"stage": 1}, "previous": {"stage": 2}})
    )
    .is_err());
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 ,:+{}%|.-]{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-c]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{ ".to_string()),
        Just(" }}".to_string()),
        Just("{% if ".to_string()),
        Just("{% endif %}".to_string()),
        Just("{% for x in ".to_string()),
        Just(" %}".to_string()),
        Just("trigger.a".to_string()),
        Just("trigger.b[0]".to_string()),
        Just(" | ".to_string()),
        prop::sample::select(FILTERS).prop_map(|f| f.to_string()),
        Just("(1)".to_string()),
        Just("('x')".to_string()),
        "[a-z0-9 '\"().,+*|{}%-]{0,6}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_templates_never_panic(t in template(), a in json_value(), b in json_value()) {
        let eng = Templates::new();
        let sc = json!({"trigger": {"a": a, "b": b}, "previous": {"a": 1}});
        match eng.render_str(&t, &sc) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
        let _ = eng.check(&t, ROOTS);
        let c = test(&t, Op::Changed, None);
        let _ = eval_conditions(&eng, &c, &sc);
    }
}

#[test]
fn shared_engine_fuel_is_per_render() {
    fn shared<T: Send + Sync>(_: &T) {}
    let t = std::sync::Arc::new(Templates::new());
    shared(&*t);
    // Each render gets its own budget: many moderate renders on one engine all succeed.
    let src = "{% for i in range(2000) %}{{ i }}{% endfor %}";
    for _ in 0..50 {
        let v = t.render_str(src, &json!({})).unwrap();
        assert!(v.as_str().unwrap().ends_with("1999"));
    }
}

#[test]
fn render_errors_carry_offsets() {
    let t = Templates::new();
    let src = "{{ trigger.count | e164 }}";
    let e = t.render_str(src, &scope()).unwrap_err();
    assert!(e.message.contains("filter `e164`"), "{e}");
    let at = e.offset.expect("offset");
    assert!(at >= 3 && at < src.len(), "{at}");
    let src = "Hi {{ trigger.name }}, {{ trigger.missing }}";
    let e = t.render_str(src, &scope()).unwrap_err();
    assert!(e.message.contains("undefined"), "{e}");
    assert_eq!(e.offset.map(|o| &src[o..o + 15]), Some("trigger.missing"));
    assert_eq!(r("{{- trigger.count -}}"), json!(3));
}

#[test]
fn check_places_names_by_role() {
    let t = Templates::new();
    // `foo` first appears as an attribute; the offending root is the second one.
    let src = "{{ trigger.foo }}{{ foo }}";
    let e = t.check(src, ROOTS).unwrap_err();
    assert_eq!(e.offset, Some(20), "{e}");
    let src = "{{ trigger.nope }}{{ trigger | nope }}";
    let e = t.check(src, ROOTS).unwrap_err();
    assert!(e.message.contains("unknown filter `nope`"), "{e}");
    assert_eq!(e.offset, Some(31));
    let src = "{% if trigger.x is not blah %}{% endif %}";
    let e = t.check(src, ROOTS).unwrap_err();
    assert_eq!(e.offset.map(|o| &src[o..o + 4]), Some("blah"), "{e}");
    assert!(t
        .check("{% for i in item %}{{ i | slug }}{% endfor %}", &["item"])
        .is_ok());
}
