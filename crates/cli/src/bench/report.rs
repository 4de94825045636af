//! The results of `hlbridge bench sync`: phases, checks, the targets, and how
//! they are printed (table, JSON) and written into BENCHMARKS.md.

use std::fmt::Write as _;

use hlbridge_emulator::bench_seed::{Census, Seeded};
use serde::Serialize;
use serde_json::Value;

use super::procstat::CpuDelta;
use super::stats::Requests;

/// GHL's nominal burst allowance: 100 requests per 10 s per location.
pub const GHL_NOMINAL_PER_SECOND: f64 = 10.0;

#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `initial`, `no-change`, `one-change`, `faults`.
    pub phase: String,
    /// Sync cycles run (`faults`: until nothing was pending, capped).
    pub cycles: usize,
    pub ghl: Requests,
    pub sellsy: Requests,
    pub requests: u64,
    /// Requests / seeded contacts.
    pub requests_per_record: f64,
    pub cpu: CpuDelta,
    /// Engine CPU (µs) / seeded contacts.
    pub engine_cpu_us_per_record: f64,
    /// Peak RSS of the whole process during the phase (emulators included), MB.
    pub peak_rss_mb: Option<f64>,
    /// RSS when the phase started (emulators with their data, earlier phases), MB.
    pub rss_start_mb: Option<f64>,
    /// Whether the peak is the phase's own (`VmHWM` reset) or since the process started.
    pub peak_is_per_phase: bool,
    pub wall_s: f64,
    /// GHL requests / (wall seconds × 10 per second), %.
    pub ghl_window_pct: f64,
    /// 429 answers of both emulators.
    pub responses_429: u64,
    /// The engine's report of each cycle.
    pub reports: Vec<Value>,
    /// Cycles that failed with an error.
    pub errors: Vec<String>,
}

/// Duplicate and loss checks on what both emulators hold after a phase.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub ghl: Census,
    pub sellsy: Census,
    /// Contacts expected on each side (every seeded contact, both sides).
    pub expected_contacts: usize,
    pub linked_contacts: Option<u64>,
    /// Contacts sharing an e-mail with another of the same side, plus contacts
    /// without an e-mail (the seed gives every contact one), both sides.
    pub duplicates: u64,
    /// Seeded e-mails missing on a side.
    pub losses: u64,
    /// Seeded contacts the state store does not link.
    pub unlinked: u64,
    pub expected_tasks: usize,
    pub expected_notes: usize,
    /// Tasks and notes above what both seeds hold together, both sides.
    pub activity_duplicates: u64,
    /// Tasks and notes below it (not yet swept, or lost).
    pub activity_missing: u64,
}

impl Verification {
    pub fn new(
        ghl: Census,
        sellsy: Census,
        seeded: (&Seeded, &Seeded),
        linked: Option<u64>,
    ) -> Verification {
        let (g, s) = seeded;
        let expected_contacts = g.contacts + s.contacts;
        let mut losses = 0u64;
        for email in g.emails.iter().chain(&s.emails) {
            losses += u64::from(!ghl.emails.contains(email));
            losses += u64::from(!sellsy.emails.contains(email));
        }
        let duplicates = (ghl.duplicate_emails
            + ghl.without_email
            + sellsy.duplicate_emails
            + sellsy.without_email) as u64;
        let expected_tasks = g.tasks + s.tasks;
        let expected_notes = g.notes + s.notes;
        let above = |have: usize, want: usize| have.saturating_sub(want) as u64;
        let activity_duplicates = above(ghl.tasks, expected_tasks)
            + above(sellsy.tasks, expected_tasks)
            + above(ghl.notes, expected_notes)
            + above(sellsy.notes, expected_notes);
        let activity_missing = above(expected_tasks, ghl.tasks)
            + above(expected_tasks, sellsy.tasks)
            + above(expected_notes, ghl.notes)
            + above(expected_notes, sellsy.notes);
        Verification {
            unlinked: linked.map_or(0, |l| (expected_contacts as u64).saturating_sub(l)),
            ghl,
            sellsy,
            expected_contacts,
            linked_contacts: linked,
            duplicates,
            losses,
            expected_tasks,
            expected_notes,
            activity_duplicates,
            activity_missing,
        }
    }

    /// No duplicate (contacts, tasks, notes), no lost or unlinked contact.
    pub fn ok(&self) -> bool {
        self.duplicates == 0
            && self.losses == 0
            && self.unlinked == 0
            && self.activity_duplicates == 0
    }

    pub fn summary(&self) -> String {
        format!(
            "contacts GHL {} / Sellsy {} (expected {} each), linked {}, duplicates {}, losses {}, unlinked {}; tasks GHL {} / Sellsy {}, notes GHL {} / Sellsy {} (expected {} and {}), activity duplicates {}, not across yet {}",
            self.ghl.contacts,
            self.sellsy.contacts,
            self.expected_contacts,
            self.linked_contacts.map_or("?".into(), |l| l.to_string()),
            self.duplicates,
            self.losses,
            self.unlinked,
            self.ghl.tasks,
            self.sellsy.tasks,
            self.ghl.notes,
            self.sellsy.notes,
            self.expected_tasks,
            self.expected_notes,
            self.activity_duplicates,
            self.activity_missing
        )
    }
}

/// One row of the target table.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub measure: String,
    pub target: String,
    pub result: String,
    /// `None`: not measurable by this run (e.g. the memory target outside 100k).
    pub met: Option<bool>,
}

impl Target {
    fn new(measure: &str, target: String, result: String, met: Option<bool>) -> Target {
        Target {
            measure: measure.into(),
            target,
            result,
            met,
        }
    }
}

/// Engine CPU per record of the initial and no-change cycles, kept in BENCHMARKS.md
/// so the growth from 1k to 100k can be checked by the later run.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq)]
pub struct CpuPoint {
    pub n: usize,
    pub initial_us: f64,
    pub no_change_us: f64,
}

/// Inputs of the target checks besides the phases.
pub struct TargetInputs<'a> {
    pub n: usize,
    pub ghl: &'a Seeded,
    pub sellsy: &'a Seeded,
    pub deletion_listings: u64,
    pub notes_sweep_share: u64,
    pub faults: Option<&'a FaultsOutcome>,
    /// Another run's CPU at the other end of 1k..100k, when known.
    pub other_cpu: Option<CpuPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultsOutcome {
    pub converged: bool,
    pub cycles: usize,
    pub wall_s: f64,
    pub verification: Verification,
}

fn yes_no(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "n/a",
    }
}

pub fn phase<'a>(phases: &'a [Phase], name: &str) -> Option<&'a Phase> {
    phases.iter().find(|p| p.phase == name)
}

pub fn targets(phases: &[Phase], t: &TargetInputs<'_>) -> Vec<Target> {
    let mut out = Vec::new();
    let initial = phase(phases, "initial");
    let quiet = phase(phases, "no-change");
    let changed = phase(phases, "one-change");
    if let Some(p) = initial {
        let s = t.sellsy;
        let g = t.ghl;
        let to_ghl = 1.1 * s.contacts as f64 + 100.0 + (s.tasks + s.notes) as f64;
        let to_sellsy =
            2.2 * g.contacts as f64 + g.companies as f64 + 100.0 + (g.tasks + g.notes) as f64;
        let bound = to_ghl + to_sellsy;
        out.push(Target::new(
            "initial, N/2 Sellsy-only to GHL + N/2 GHL-only to Sellsy (one mixed run)",
            format!(
                "≤ {bound:.0} requests (1.1×{} + 100 + {} tasks/notes = {to_ghl:.0}; 2.2×{} + {} companies + 100 + {} tasks/notes = {to_sellsy:.0})",
                s.contacts,
                s.tasks + s.notes,
                g.contacts,
                g.companies,
                g.tasks + g.notes
            ),
            format!(
                "{} requests (GHL {}, Sellsy {})",
                p.requests, p.ghl.requests, p.sellsy.requests
            ),
            Some(p.requests as f64 <= bound),
        ));
    }
    if let Some(q) = quiet {
        let bound = 10 + t.deletion_listings + t.notes_sweep_share;
        out.push(Target::new(
            "no-change cycle",
            format!(
                "≤ {bound} requests (10 + {} deletion listing pages + {} notes sweep share)",
                t.deletion_listings, t.notes_sweep_share
            ),
            format!(
                "{} requests (GHL {}, Sellsy {})",
                q.requests, q.ghl.requests, q.sellsy.requests
            ),
            Some(q.requests <= bound),
        ));
        if let Some(c) = changed {
            out.push(Target::new(
                "one changed contact",
                format!("≤ {} requests (no-change + 3)", q.requests + 3),
                format!("{} requests", c.requests),
                Some(c.requests <= q.requests + 3),
            ));
        }
    }
    if let (Some(i), Some(q)) = (initial, quiet) {
        let available = i.cpu.available && q.cpu.available;
        out.push(Target::new(
            "engine CPU",
            "≤ 150 µs/record initial, ≤ 20 µs/record no-change".into(),
            format!(
                "{:.1} µs/record initial, {:.1} µs/record no-change",
                i.engine_cpu_us_per_record, q.engine_cpu_us_per_record
            ),
            available.then_some(
                i.engine_cpu_us_per_record <= 150.0 && q.engine_cpu_us_per_record <= 20.0,
            ),
        ));
        let here = CpuPoint {
            n: t.n,
            initial_us: i.engine_cpu_us_per_record,
            no_change_us: q.engine_cpu_us_per_record,
        };
        let (growth, met) = match t.other_cpu {
            Some(other) if available => {
                let (small, large) = if other.n < here.n {
                    (other, here)
                } else {
                    (here, other)
                };
                let gi = large.initial_us / small.initial_us.max(1e-9);
                let gq = large.no_change_us / small.no_change_us.max(1e-9);
                (
                    format!(
                        "×{gi:.2} initial, ×{gq:.2} no-change ({} → {})",
                        small.n, large.n
                    ),
                    Some(gi < 1.5 && gq < 1.5),
                )
            }
            _ => (
                "needs runs at 1,000 and 100,000 written to the same file".into(),
                None,
            ),
        };
        out.push(Target::new(
            "engine CPU growth",
            "< 1.5× from 1k to 100k contacts".into(),
            growth,
            met,
        ));
    }
    let peak = phases
        .iter()
        .filter_map(|p| p.peak_rss_mb)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    out.push(Target::new(
        "memory",
        "peak RSS < 200 MB at 100k contacts".into(),
        match peak {
            Some(p) => format!("{p:.1} MB peak (whole process, both emulators included)"),
            None => "not measured (no /proc)".into(),
        },
        peak.filter(|_| t.n >= 100_000).map(|p| p < 200.0),
    ));
    if let Some(i) = initial {
        out.push(Target::new(
            "rate use",
            "initial sync uses ≥ 95% of the GHL window, 0 responses 429".into(),
            format!(
                "{:.0}% of 100 requests / 10 s (limit lifted), {} responses 429",
                i.ghl_window_pct, i.responses_429
            ),
            Some(i.ghl_window_pct >= 95.0 && i.responses_429 == 0),
        ));
    }
    match (t.faults, initial) {
        (Some(f), Some(i)) => {
            let v = &f.verification;
            let ratio = f.wall_s / i.wall_s.max(1e-9);
            out.push(Target::new(
                "under faults",
                "converges with 0 duplicates and 0 losses in ≤ 3× the clean time".into(),
                format!(
                    "{} in {} cycles, {:.1} s = {ratio:.1}× clean; {} duplicates, {} losses, {} unlinked",
                    if f.converged { "converged" } else { "did not converge" },
                    f.cycles,
                    f.wall_s,
                    v.duplicates + v.activity_duplicates,
                    v.losses,
                    v.unlinked
                ),
                Some(f.converged && v.ok() && ratio <= 3.0),
            ));
        }
        _ => out.push(Target::new(
            "under faults",
            "converges with 0 duplicates and 0 losses in ≤ 3× the clean time".into(),
            "not run".into(),
            None,
        )),
    }
    out
}

fn mb(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The phase table (Markdown, also what the terminal shows).
pub fn phase_table(phases: &[Phase]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| phase | GHL requests | Sellsy requests | requests/record | engine CPU µs/record | peak RSS MB | wall s | GHL window used | 429s |\n|---|---|---|---|---|---|---|---|---|"
    );
    for p in phases {
        let name = if p.cycles > 1 {
            format!("{} ({} cycles)", p.phase, p.cycles)
        } else {
            p.phase.clone()
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {:.2} | {} | {} | {:.2} | {:.0}% | {} |",
            p.ghl.requests,
            p.sellsy.requests,
            p.requests_per_record,
            if p.cpu.available {
                format!("{:.1}", p.engine_cpu_us_per_record)
            } else {
                "-".into()
            },
            mb(p.peak_rss_mb),
            p.wall_s,
            p.ghl_window_pct,
            p.responses_429
        );
    }
    md
}

pub fn target_table(targets: &[Target]) -> String {
    let mut md = String::from("| measure | target | result | met |\n|---|---|---|---|\n");
    for t in targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.measure,
            t.target,
            t.result,
            yes_no(t.met)
        );
    }
    md
}

/// Requests by operation id, per phase and side.
pub fn operations(phases: &[Phase]) -> String {
    let mut out = String::new();
    for p in phases {
        let _ = writeln!(out, "{}:", p.phase);
        for (side, r) in [("GHL", &p.ghl), ("Sellsy", &p.sellsy)] {
            let mut ops: Vec<_> = r.by_operation.iter().collect();
            ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
            let _ = writeln!(
                out,
                "  {side} {}: {}",
                r.requests,
                if list.is_empty() {
                    "-".into()
                } else {
                    list.join(", ")
                }
            );
        }
    }
    out
}

pub const SECTION_START: &str = "<!-- bench-sync:start -->";
pub const SECTION_END: &str = "<!-- bench-sync:end -->";
const DATA_PREFIX: &str = "<!-- bench-sync-data ";

fn block_start(n: usize) -> String {
    format!("<!-- bench-sync:n={n} -->")
}

fn block_end(n: usize) -> String {
    format!("<!-- /bench-sync:n={n} -->")
}

/// The blocks (one per N) inside the section, with their N, in file order.
fn blocks(section: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(at) = rest.find("<!-- bench-sync:n=") {
        let after = &rest[at + "<!-- bench-sync:n=".len()..];
        let Some(n) = after
            .split(" -->")
            .next()
            .and_then(|s| s.trim().parse::<usize>().ok())
        else {
            break;
        };
        let end = block_end(n);
        let Some(stop) = rest[at..].find(&end) else {
            break;
        };
        let stop = at + stop + end.len();
        out.push((n, rest[at..stop].to_string()));
        rest = &rest[stop..];
    }
    out
}

/// The CPU data point stored in a block.
fn block_cpu(block: &str) -> Option<CpuPoint> {
    let at = block.find(DATA_PREFIX)? + DATA_PREFIX.len();
    let json = block[at..].split(" -->").next()?;
    serde_json::from_str(json).ok()
}

/// The CPU point of the run at the other end of 1k..100k kept in `existing`, if any.
pub fn other_cpu(existing: &str, n: usize) -> Option<CpuPoint> {
    let start = existing.find(SECTION_START)?;
    let end = existing[start..].find(SECTION_END)? + start;
    blocks(&existing[start..end])
        .into_iter()
        .filter(|(m, _)| (n <= 1_000 && *m >= 100_000) || (n >= 100_000 && *m <= 1_000))
        .find_map(|(_, b)| block_cpu(&b))
}

/// The Markdown block of one run.
pub fn markdown_block(
    n: usize,
    header: &str,
    phases: &[Phase],
    targets: &[Target],
    notes: &[String],
    cpu: Option<CpuPoint>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{}", block_start(n));
    let _ = writeln!(md, "### {} contacts\n", thousands(n));
    let _ = writeln!(md, "{header}\n");
    md.push_str(&phase_table(phases));
    md.push('\n');
    md.push_str(&target_table(targets));
    md.push('\n');
    for note in notes {
        let _ = writeln!(md, "- {note}");
    }
    if let Some(cpu) = cpu {
        let _ = writeln!(
            md,
            "\n{DATA_PREFIX}{} -->",
            serde_json::to_string(&cpu).unwrap_or_default()
        );
    }
    let _ = write!(md, "{}", block_end(n));
    md
}

/// `existing` with the block of `n` replaced (or added, blocks ordered by N) inside
/// the bench-sync section, which is appended when missing. Nothing outside it changes.
pub fn update_section(existing: &str, n: usize, block: &str) -> String {
    let intro = "## Sync benchmark (`hlbridge bench sync`)\n\nWritten by `hlbridge bench sync --contacts N --write BENCHMARKS.md`; one block per N, each replaced only by a run at the same N.";
    let (before, section, after) = match existing.find(SECTION_START).and_then(|s| {
        existing[s..]
            .find(SECTION_END)
            .map(|e| (s, s + e + SECTION_END.len()))
    }) {
        Some((s, e)) => (
            existing[..s].to_string(),
            existing[s..e].to_string(),
            existing[e..].to_string(),
        ),
        None => {
            let mut before = existing.to_string();
            if !before.is_empty() && !before.ends_with("\n\n") {
                before.push_str(if before.ends_with('\n') { "\n" } else { "\n\n" });
            }
            (before, String::new(), "\n".to_string())
        }
    };
    let mut all: Vec<(usize, String)> = blocks(&section)
        .into_iter()
        .filter(|(m, _)| *m != n)
        .collect();
    all.push((n, block.to_string()));
    all.sort_by_key(|(m, _)| *m);
    let mut out = before;
    out.push_str(SECTION_START);
    out.push('\n');
    out.push_str(intro);
    out.push_str("\n\n");
    for (_, b) in &all {
        out.push_str(b);
        out.push_str("\n\n");
    }
    out.push_str(SECTION_END);
    out.push_str(&after);
    out
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_replaced_by_n_and_the_rest_is_kept() {
        let base = "# Benchmarks\n\n| a | b |\n";
        let one = update_section(base, 1000, &markdown_block(1000, "h1", &[], &[], &[], None));
        assert!(one.starts_with(base));
        assert!(one.contains(SECTION_START) && one.contains(SECTION_END));
        let point = CpuPoint {
            n: 100_000,
            initial_us: 5.0,
            no_change_us: 1.0,
        };
        let two = update_section(
            &one,
            100_000,
            &markdown_block(100_000, "h2", &[], &[], &[], Some(point)),
        );
        let three = update_section(&two, 1000, &markdown_block(1000, "h3", &[], &[], &[], None));
        assert!(three.starts_with(base));
        assert!(three.contains("h3") && three.contains("h2") && !three.contains("h1"));
        assert!(three.find("h3") < three.find("h2"), "ordered by N");
        assert_eq!(three.matches(SECTION_START).count(), 1);
        assert_eq!(other_cpu(&three, 1000), Some(point));
        assert_eq!(other_cpu(&three, 10_000), None);
        let tail = format!("{three}\n## Later\n");
        let four = update_section(
            &tail,
            10_000,
            &markdown_block(10_000, "h4", &[], &[], &[], None),
        );
        assert!(four.ends_with("\n## Later\n"));
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
    }
}
