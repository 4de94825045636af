//! Flow files: good ones validate, malformed ones are refused with FILE:LINE:COL.

use hlbridge_flows::validate::{validate, Problem};

const GOOD: &str = r#"schema_version: 1
name: vip-follow-up
title: A Sellsy task for each new VIP GHL contact
trigger:
  webhook:
    app: ghl
    events: [ContactCreate]
steps:
  - id: only_vip
    filter:
      all:
        - value: "{{ trigger.tags }}"
          op: tag_present
          arg: vip
  - id: task_body
    map:
      title: "Call {{ trigger.firstName }}"
  - id: task
    action:
      operation: "sellsy:tasks.create-task"
      body: "{{ steps.task_body.output }}"
    retry:
      attempts: 3
    on_error: continue
"#;

fn problems(text: &str) -> Vec<Problem> {
    validate("f.flow.yaml", text).expect_err("refused")
}

/// (what to change in GOOD, expected line, expected substring)
fn case(from: &str, to: &str, line: usize, want: &str) {
    assert!(GOOD.contains(from), "{from}");
    let text = GOOD.replacen(from, to, 1);
    let p = problems(&text);
    assert!(
        p.iter()
            .any(|p| p.line == line && p.message.contains(want) && p.col >= 1),
        "{from} → {to}: want line {line} {want:?}, got {p:?}"
    );
    for x in &p {
        assert!(x.to_string().starts_with("f.flow.yaml:"), "{x}");
    }
}

#[test]
fn the_good_flow_validates() {
    let flow = validate("f.flow.yaml", GOOD).unwrap();
    assert_eq!(flow.steps.len(), 3);
}

#[test]
fn malformed_files_name_the_place_and_the_problem() {
    case(
        "schema_version: 1",
        "schema_version: 7",
        1,
        "schema_version 7",
    );
    case("name: vip-follow-up", "name: VIP Follow", 2, "name");
    case("title: A Sellsy", "titel: A Sellsy", 3, "titel");
    case("    app: ghl", "    app: zoho", 6, "ghl or sellsy");
    case(
        "    events: [ContactCreate]",
        "    events: []",
        7,
        "at least one event",
    );
    case("  - id: only_vip", "  - id: Only-Vip", 9, "step id");
    case(
        "          op: tag_present",
        "          op: tagged",
        13,
        "is not known",
    );
    case(
        "sellsy:tasks.create-task",
        "sellsy:tasks.create-tsk",
        20,
        "did you mean sellsy:tasks.create-task",
    );
    case(
        "sellsy:tasks.create-task",
        "zoho:tasks.create",
        20,
        "ghl:OPERATION or sellsy:OPERATION",
    );
    case(
        "steps.task_body.output",
        "steps.task_bdy.output",
        21,
        "did you mean task_body",
    );
    case("      attempts: 3", "      attempts: 30", 23, "1 to 10");
    case(
        "    on_error: continue",
        "    on_error: explode",
        24,
        "fail, continue",
    );
    case("  - id: task\n", "  - id: only_vip\n", 18, "used twice");
    case("steps:\n", "stepz:\n", 8, "stepz");
    case("      title: \"Call", "      title: [\"Call", 18, "");
}

#[test]
fn poll_triggers_need_a_read_within_one_to_fifteen_minutes() {
    let poll = |op: &str, every: &str| {
        format!(
            "schema_version: 1\nname: p\ntrigger:\n  poll:\n    operation: \"{op}\"\n    every: {every}\nsteps:\n  - id: m\n    map: {{a: b}}\n"
        )
    };
    assert!(validate("p", &poll("ghl:contacts.get-contacts", "5m")).is_ok());
    let p = validate("p", &poll("ghl:contacts.create-contact", "5m")).unwrap_err();
    assert!(p[0].message.contains("read operation"), "{p:?}");
    assert_eq!((p[0].line, p[0].col), (5, 17));
    let p = validate("p", &poll("ghl:contacts.get-contacts", "30m")).unwrap_err();
    assert!(p[0].message.contains("1m to 15m"), "{p:?}");
    let p = validate("p", &poll("ghl:contacts.get-contact", "5m")).unwrap_err();
    assert!(
        p.iter().any(|x| x.message.contains("needs the parameter")),
        "{p:?}"
    );
}

#[test]
fn schedules_check_fields_and_time_zones() {
    let s = |cron: &str, tz: &str| {
        format!("schema_version: 1\nname: s\ntrigger:\n  schedule:\n    cron: \"{cron}\"\n    tz: {tz}\nsteps:\n  - id: m\n    map: {{a: b}}\n")
    };
    assert!(validate("s", &s("0 9 * * 1-5", "Europe/Paris")).is_ok());
    assert!(validate("s", &s("0 9 * *", "Europe/Paris")).unwrap_err()[0]
        .message
        .contains("5 fields"));
    assert!(
        validate("s", &s("0 9 * * *", "Mars/Olympus")).unwrap_err()[0]
            .message
            .contains("IANA")
    );
}

#[test]
fn garbage_never_panics_and_always_has_a_position() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 300,
        ..Default::default()
    });
    runner
        .run(&(any::<String>(), 0usize..GOOD.len()), |(junk, at)| {
            let at = (0..=at)
                .rev()
                .find(|i| GOOD.is_char_boundary(*i))
                .unwrap_or(0);
            for text in [
                junk.clone(),
                format!("{}{}{}", &GOOD[..at], junk, &GOOD[at..]),
            ] {
                if let Err(p) = validate("g", &text) {
                    prop_assert!(!p.is_empty());
                    prop_assert!(p.iter().all(|x| x.line >= 1 && x.col >= 1));
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Each file of `tests/bad/` starts with `# expect: LINE:COL: text` (`*` for a position
/// left to the YAML parser): the file is refused with a problem at that place whose
/// message contains the text.
#[test]
fn every_bad_fixture_is_refused_at_the_right_place() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".flow.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let mut parts = expect.splitn(3, ':');
        let (line, col, want) = (
            parts.next().unwrap().trim(),
            parts.next().unwrap().trim(),
            parts.next().unwrap_or("").trim(),
        );
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let problems = match validate(&name, &text) {
            Ok(_) => {
                failures.push(format!("{name}: accepted"));
                continue;
            }
            Err(p) => p,
        };
        let hit = problems.iter().any(|p| {
            (line == "*" || p.line.to_string() == line)
                && (col == "*" || p.col.to_string() == col)
                && p.message.contains(want)
                && p.to_string()
                    .starts_with(&format!("{name}:{}:{}: ", p.line, p.col))
        });
        if !hit {
            failures.push(format!(
                "{name}: want {line}:{col} {want:?}, got {problems:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
