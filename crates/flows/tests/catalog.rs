//! The template gallery: every template (and companion flow) validates as written, the
//! names are exactly the documented ones, titles and descriptions come from the files.

use hlbridge_flows::catalog;
use hlbridge_flows::validate::validate;

const NAMES: &[&str] = &[
    "contact-sync-realtime",
    "contact-two-way",
    "task-sync-two-way",
    "notes-centralized",
    "task-on-contact-event",
    "notes-archive",
    "sellsy-company-to-ghl-business",
    "ghl-opportunity-won-to-sellsy-task",
    "ghl-appointment-to-sellsy-comment",
    "sellsy-tag-to-ghl-workflow",
    "ghl-new-contact-to-sellsy-prospect",
];

#[test]
fn the_gallery_has_exactly_the_documented_templates() {
    let names: Vec<&str> = catalog::list().iter().map(|t| t.name).collect();
    assert_eq!(names, NAMES);
    assert_eq!(catalog::names(), NAMES);
}

#[test]
fn every_template_and_companion_validates_as_written() {
    let mut all = catalog::list();
    all.extend(NAMES.iter().filter_map(|n| catalog::companion_of(n)));
    assert_eq!(all.len(), NAMES.len() + 4, "four two-part templates");
    let mut failures = Vec::new();
    for t in &all {
        let file = format!("{}.flow.yaml", t.name);
        match validate(&file, t.text) {
            Ok(flow) => {
                assert_eq!(flow.name, t.name, "the flow's name is the template's");
                assert_eq!(flow.title.as_deref(), Some(t.title.as_str()));
                assert!(
                    !t.title.is_empty() && t.description.len() > 80,
                    "{}",
                    t.name
                );
                assert!(
                    t.text
                        .lines()
                        .filter(|l| l.trim_start().starts_with('#'))
                        .count()
                        >= 3,
                    "{} is commented for editing",
                    t.name
                );
            }
            Err(problems) => failures.extend(problems.iter().map(|p| p.to_string())),
        }
    }
    assert!(failures.is_empty(), "problems:\n{}", failures.join("\n"));
}

#[test]
fn get_reads_title_and_description_from_the_file() {
    let t = catalog::get("notes-archive").expect("notes-archive");
    assert!(t.text.contains("hlbridge:notes.archive"));
    assert!(t.description.contains("notes search"), "{}", t.description);
    assert!(t.text.contains(&format!("title: \"{}\"", t.title)));
    assert!(catalog::get("notes-archiv").is_none());
    assert_eq!(catalog::suggest("notes-archiv"), Some("notes-archive"));
    let two_way = catalog::get("contact-two-way").unwrap();
    assert!(two_way.description.contains("contact-two-way-reverse"));
    let reverse = catalog::companion_of("contact-two-way").unwrap();
    assert_eq!(reverse.name, "contact-two-way-reverse");
}

#[test]
fn the_two_way_halves_listen_to_opposite_apps() {
    use hlbridge_flows::model::Trigger;
    for name in [
        "contact-two-way",
        "task-sync-two-way",
        "notes-centralized",
        "notes-archive",
    ] {
        let main = catalog::get(name).unwrap();
        let other = catalog::companion_of(name).unwrap();
        let app = |text: &str| match validate("x", text).map(|f| f.trigger) {
            Ok(Trigger::Webhook(w)) => w.app,
            other => panic!("{name}: a webhook trigger, got {other:?}"),
        };
        assert_ne!(app(main.text), app(other.text), "{name}");
    }
}

#[test]
fn a_broken_template_would_be_caught() {
    // The check above is real: the same file with an unknown filter does not validate.
    let t = catalog::get("contact-two-way").unwrap();
    let broken = t.text.replacen("| lower ==", "| lowerr ==", 1);
    assert_ne!(broken, t.text);
    let problems = validate("contact-two-way.flow.yaml", &broken).unwrap_err();
    assert!(
        problems.iter().any(|p| p.message.contains("lowerr")),
        "{problems:?}"
    );
}

/// The `hlbridge` binary next to this test's (build it first: `cargo build -p hlbridge`).
fn hlbridge() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(format!("hlbridge{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p hlbridge` first",
        bin.display()
    );
    bin
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("hlb-tpl-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cli_templates_list_json_and_use_out_then_validate() {
    let bin = hlbridge();
    let out = std::process::Command::new(&bin)
        .args(["templates", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, NAMES);
    for i in &items {
        let mut keys: Vec<&String> = i.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["description", "name", "title"]);
        assert!(!i["title"].as_str().unwrap().is_empty());
    }

    let dir = temp_dir("use");
    for name in NAMES {
        let file = dir.join(format!("my-{name}.flow.yaml"));
        let out = std::process::Command::new(&bin)
            .args(["templates", "use", name, "--out"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            catalog::get(name).unwrap().text
        );
        let mut written = vec![file.clone()];
        if let Some(c) = catalog::companion_of(name) {
            let other = catalog::companion_path(&file, name, c.name);
            assert_eq!(std::fs::read_to_string(&other).unwrap(), c.text);
            written.push(other);
        }
        for f in written {
            let v = std::process::Command::new(&bin)
                .args(["flow", "validate"])
                .arg(&f)
                .output()
                .unwrap();
            assert_eq!(
                v.status.code(),
                Some(0),
                "{}: {}",
                f.display(),
                String::from_utf8_lossy(&v.stderr)
            );
        }
    }

    // An existing file is kept unless --force; an unknown name exits 2 with a hint.
    let file = dir.join("my-notes-archive.flow.yaml");
    std::fs::write(&file, "mine").unwrap();
    let again = std::process::Command::new(&bin)
        .args(["templates", "use", "notes-archive", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    let forced = std::process::Command::new(&bin)
        .args(["templates", "use", "notes-archive", "--force", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        catalog::get("notes-archive").unwrap().text
    );
    let unknown = std::process::Command::new(&bin)
        .args(["templates", "use", "notes-archiv"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("did you mean notes-archive?"), "{err}");

    // Default path: NAME.flow.yaml in the current directory.
    let plain = std::process::Command::new(&bin)
        .args(["templates", "use", "ghl-appointment-to-sellsy-comment"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(plain.status.success());
    assert!(dir
        .join("ghl-appointment-to-sellsy-comment.flow.yaml")
        .exists());
    std::fs::remove_dir_all(&dir).ok();
}
