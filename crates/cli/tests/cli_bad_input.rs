//! Bad input to `hlbridge ghl`: exit 2, one line naming the parameter or field and what
//! was expected, and nothing sent. API errors: exit 1 with status, message and trace id.
//! Odd input never panics.

mod common;

use common::{Env, Out};
use serde_json::json;

/// Exit 2 with exactly one stderr line containing every needle, nothing on stdout.
#[track_caller]
fn assert_usage_error(out: &Out, needles: &[&str]) {
    assert_eq!(out.code, 2, "expected exit 2: {out:?}");
    assert!(out.stdout.trim().is_empty(), "nothing on stdout: {out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {out:?}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "stderr should mention {needle:?}: {:?}",
            lines[0]
        );
    }
}

#[track_caller]
fn assert_no_panic(out: &Out) {
    assert!(
        matches!(out.code, 0..=2),
        "exit code {} is not one of 0, 1, 2: {out:?}",
        out.code
    );
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    assert!(!out.stderr.contains("RUST_BACKTRACE"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_one_line_and_sends_nothing() {
    let env = Env::start().await;
    let dir = std::env::temp_dir().join(format!("hlbridge-bad-input-{}", std::process::id()));
    let missing_file = dir.join("missing.json");
    let missing_arg = format!("@{}", missing_file.display());

    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "unknown operation",
            vec!["ghl".into(), "contacts.get-contactz".into()],
            vec!["unknown operation", "contacts.get-contactz"],
        ),
        (
            "missing required path parameter",
            vec!["ghl".into(), "contacts.get-contact".into()],
            vec!["contactId", "required"],
        ),
        (
            "missing required body field",
            vec![
                "ghl".into(),
                "contacts.create-task".into(),
                "--param".into(),
                "contactId=abcdefghijklmnopqrst".into(),
                "--body".into(),
                r#"{"dueDate":"2030-01-01T00:00:00Z","completed":false}"#.into(),
            ],
            vec!["title", "required"],
        ),
        (
            "malformed JSON body",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                r#"{"firstName": "Ada",}"#.into(),
            ],
            vec!["--body", "not valid JSON"],
        ),
        (
            "body file that does not exist",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                missing_arg.clone(),
            ],
            vec![missing_arg.as_str(), "cannot read"],
        ),
        (
            "unknown body field",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                r#"{"firstName":"Ada","favouriteColour":"red"}"#.into(),
            ],
            vec!["favouriteColour", "unknown"],
        ),
        (
            "field not accepted by update (gender)",
            vec![
                "ghl".into(),
                "contacts.update-contact".into(),
                "--param".into(),
                "contactId=abcdefghijklmnopqrst".into(),
                "--body".into(),
                r#"{"gender":"female"}"#.into(),
            ],
            vec!["gender", "unknown"],
        ),
        (
            "wrong type",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                r#"{"firstName":"Ada","dnd":"yes"}"#.into(),
            ],
            vec!["dnd", "expected boolean", "string"],
        ),
        (
            "wrong type nested in an enum",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                r#"{"dndSettings":{"Call":{"status":"sometimes"}}}"#.into(),
            ],
            vec!["dndSettings.Call.status", "active"],
        ),
        (
            "body that is not an object",
            vec![
                "ghl".into(),
                "contacts.create-contact".into(),
                "--body".into(),
                "[1,2]".into(),
            ],
            vec!["body", "array"],
        ),
        (
            "path parameter outside its enum",
            vec![
                "ghl".into(),
                "contacts.bulk-update-tags".into(),
                "--param".into(),
                "type=toggle".into(),
                "--body".into(),
                r#"{"contacts":["abcdefghijklmnopqrst"],"tags":["x"]}"#.into(),
            ],
            vec!["type", "add", "remove"],
        ),
        (
            "unknown query parameter",
            vec![
                "ghl".into(),
                "contacts.get-contacts".into(),
                "--param".into(),
                "colour=red".into(),
            ],
            vec!["colour", "unknown"],
        ),
        (
            "query parameter of the wrong type",
            vec![
                "ghl".into(),
                "contacts.get-contacts".into(),
                "--param".into(),
                "limit=lots".into(),
            ],
            vec!["limit", "expected number", "lots"],
        ),
        (
            "--param without =",
            vec![
                "ghl".into(),
                "contacts.get-contact".into(),
                "--param".into(),
                "contactId".into(),
            ],
            vec!["--param", "NAME=VALUE", "contactId"],
        ),
        (
            "--param with an empty name",
            vec![
                "ghl".into(),
                "contacts.get-contact".into(),
                "--param".into(),
                "=abc".into(),
            ],
            vec!["--param", "empty name"],
        ),
        (
            "a body on an operation that takes none",
            vec![
                "ghl".into(),
                "contacts.get-contact".into(),
                "--param".into(),
                "contactId=abcdefghijklmnopqrst".into(),
                "--body".into(),
                "{}".into(),
            ],
            vec!["contacts.get-contact", "no body"],
        ),
        (
            "empty operation id",
            vec!["ghl".into(), "".into()],
            vec!["unknown operation"],
        ),
    ];

    for (what, args, needles) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&args).await;
        assert_no_panic(&out);
        assert_usage_error(&out, needles);
        assert_eq!(env.requests(), 0, "{what}: nothing may be sent");
    }

    // The same mistakes with --json are still exit 2 and nothing sent.
    let out = env
        .run(&[
            "ghl",
            "contacts.create-contact",
            "--json",
            "--body",
            r#"{"dnd":"yes"}"#,
        ])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    let err = out.stderr_json();
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dnd")),
        "{err}"
    );
    assert_eq!(env.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_exit_2_and_send_nothing() {
    let env = Env::start().await;
    let out = common::run_with_env(
        &[
            "ghl",
            "contacts.get-contact",
            "--param",
            "contactId=abcdefghijklmnopqrst",
        ],
        &[("HLBRIDGE_GHL_BASE_URL", env.emu.base_url.as_str())],
    )
    .await;
    assert_usage_error(&out, &["HLBRIDGE_GHL_TOKEN"]);
    assert_eq!(env.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_error_exits_1_with_status_message_and_trace_id() {
    let env = Env::start().await;
    let id = "abcdefghijklmnopqrst";
    let out = env
        .run(&[
            "ghl",
            "contacts.get-contact",
            "--param",
            &format!("contactId={id}"),
        ])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.trim().is_empty(), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(lines[0].contains("400"), "status: {out:?}");
    assert!(
        lines[0].contains("Contact not found"),
        "GHL message: {out:?}"
    );
    assert!(lines[0].contains("traceId"), "trace id: {out:?}");
    assert_eq!(
        env.requests(),
        1,
        "sent exactly once (a 400 is not retried)"
    );

    // With --json: a JSON object on stderr with the same facts.
    let out = env
        .run(&[
            "ghl",
            "contacts.get-contact",
            "--json",
            "--param",
            &format!("contactId={id}"),
        ])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    let err = out.stderr_json();
    assert_eq!(err["error"]["status"], 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Contact not found")),
        "{err}"
    );
    assert!(
        err["error"]["traceId"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{err}"
    );

    // A wrong token: 401, exit 1.
    let out = common::run_with_env(
        &[
            "ghl",
            "contacts.get-contact",
            "--json",
            "--param",
            &format!("contactId={id}"),
        ],
        &[
            ("HLBRIDGE_GHL_BASE_URL", env.emu.base_url.as_str()),
            ("HLBRIDGE_GHL_TOKEN", "pit-wrong"),
            ("HLBRIDGE_GHL_LOCATION_ID", common::LOCATION),
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr_json()["error"]["status"], 401, "{out:?}");

    // Flags override the environment: the right token as --token works.
    let created = env
        .ok(
            "contacts.create-contact",
            &[],
            Some(&json!({"firstName": "Flag", "email": "flag@example.com"})),
        )
        .await;
    let cid = created["contact"]["id"].as_str().expect("id").to_string();
    let out = common::run_with_env(
        &[
            "ghl",
            "contacts.get-contact",
            "--json",
            "--token",
            common::TOKEN,
            "--param",
            &format!("contactId={cid}"),
        ],
        &[
            ("HLBRIDGE_GHL_BASE_URL", env.emu.base_url.as_str()),
            ("HLBRIDGE_GHL_TOKEN", "pit-wrong"),
            ("HLBRIDGE_GHL_LOCATION_ID", common::LOCATION),
        ],
    )
    .await;
    assert_eq!(out.ok()["contact"]["id"], cid.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_never_panics() {
    let env = Env::start().await;
    // Below Linux's 128 KiB limit on one argument.
    let huge = "x".repeat(100_000);
    let huge_param = format!("contactId={huge}");
    let huge_name = format!("{}=1", "n".repeat(50_000));
    let unicode_id = "contactId=ñandú-🦀-契約";
    let unicode_body = r#"{"firstName":"Zoë 🦀","lastName":"Ωmega","city":"Kraków"}"#;
    let nested = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));

    // Sent: odd but well-formed values reach the server and fail or succeed cleanly.
    for args in [
        vec![
            "ghl",
            "contacts.get-contact",
            "--param",
            huge_param.as_str(),
        ],
        vec!["ghl", "contacts.get-contact", "--param", unicode_id],
        vec![
            "ghl",
            "contacts.get-contact",
            "--param",
            "contactId=../../oauth/token",
        ],
        vec![
            "ghl",
            "contacts.get-contact",
            "--param",
            "contactId=a b?c#d&e",
        ],
    ] {
        let out = env.run(&args).await;
        assert_no_panic(&out);
        assert_ne!(out.code, 0, "no such contact: {out:?}");
        assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    }

    // Unicode survives a round trip.
    let out = env
        .run(&[
            "ghl",
            "contacts.create-contact",
            "--json",
            "--body",
            unicode_body,
        ])
        .await;
    let id = out.ok()["contact"]["id"].as_str().expect("id").to_string();
    let stored = env.contact(&id);
    assert_eq!(stored["firstName"], "Zoë 🦀");
    assert_eq!(stored["city"], "Kraków");

    // Refused locally: nothing more is sent.
    let sent = env.requests();
    for args in [
        vec!["ghl", "контакты.получить"],
        vec!["ghl", huge.as_str()],
        vec![
            "ghl",
            "contacts.get-contacts",
            "--param",
            huge_name.as_str(),
        ],
        vec!["ghl", "contacts.create-contact", "--body", nested.as_str()],
        vec!["ghl", "contacts.create-contact", "--body", ""],
        vec!["ghl", "contacts.create-contact", "--body", "@"],
        vec![
            "ghl",
            "contacts.create-contact",
            "--body",
            r#"{"prénom":"Zoë"}"#,
        ],
    ] {
        let out = env.run(&args).await;
        assert_no_panic(&out);
        assert_eq!(out.code, 2, "refused locally: {out:?}");
        assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    }
    assert_eq!(env.requests(), sent, "nothing sent for refused input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_parameters_cannot_escape_their_segment() {
    let env = Env::start().await;
    let id = env
        .create_contact(json!({"firstName": "Safe", "email": "safe@example.com"}))
        .await;
    // `..` or `.` as a path parameter must never turn into another endpoint: here a
    // task delete that would become `DELETE /contacts/{id}` once the URL is normalised.
    for task in ["..", "."] {
        let out = env
            .run(&[
                "ghl",
                "contacts.delete-task",
                "--param",
                &format!("contactId={id}"),
                "--param",
                &format!("taskId={task}"),
            ])
            .await;
        assert_no_panic(&out);
        assert!(
            env.state().contact(&id).is_some(),
            "taskId={task} deleted the contact: {out:?}"
        );
        assert_ne!(out.code, 0, "taskId={task}: {out:?}");
    }
    for contact in ["..", "."] {
        let out = env
            .run(&[
                "ghl",
                "contacts.get-contact",
                "--param",
                &format!("contactId={contact}"),
            ])
            .await;
        assert_no_panic(&out);
        assert_ne!(out.code, 0, "contactId={contact} is no contact: {out:?}");
    }
    let stats = env.state().stats();
    let others: Vec<&String> = stats
        .by_operation
        .keys()
        .filter(|op| {
            !matches!(
                op.as_str(),
                "contacts.create-contact" | "contacts.delete-task" | "contacts.get-contact"
            )
        })
        .collect();
    assert!(
        others.is_empty(),
        "requests reached other operations: {:?}",
        stats.by_operation
    );
}
