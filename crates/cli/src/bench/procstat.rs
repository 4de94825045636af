//! CPU per thread and resident memory of this process, from `/proc` (Linux).
//!
//! Engine CPU = CPU of every thread whose name does not start with `emu-` (the
//! emulators run on their own runtimes with `emu-*` threads). Per thread the
//! nanosecond counter of `/proc/self/task/*/schedstat` is used when the kernel has
//! it, else `utime + stime` of `/proc/self/task/*/stat` (clock ticks, 10 ms).
//! Threads that ended between two snapshots are not attributed to either side:
//! their CPU is reported apart (process total from `/proc/self/stat` minus the
//! live threads).

use std::collections::HashMap;

/// Names of the emulators' threads start with this.
pub const EMULATOR_THREAD_PREFIX: &str = "emu-";

/// `/proc` reports times in USER_HZ, 100 on every mainstream Linux architecture.
const TICK_NS: u64 = 10_000_000;

#[derive(Debug, Clone)]
struct ThreadCpu {
    comm: String,
    ticks_ns: u64,
    precise_ns: Option<u64>,
}

impl ThreadCpu {
    fn ns(&self) -> u64 {
        self.precise_ns.unwrap_or(self.ticks_ns)
    }
}

/// CPU counters of every live thread, and of the whole process.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    threads: HashMap<u32, ThreadCpu>,
    process_ns: u64,
    available: bool,
}

/// CPU spent between two snapshots.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CpuDelta {
    /// Threads outside the emulators (the engine, its HTTP clients, SQLite, the CLI).
    pub engine_s: f64,
    /// The emulators' threads.
    pub emulator_s: f64,
    /// Threads that ended in between (not attributed).
    pub unattributed_s: f64,
    /// Whole process (clock ticks).
    pub process_s: f64,
    /// Nanosecond per-thread counters were used (else 10 ms ticks).
    pub precise: bool,
    /// False when `/proc` could not be read (not Linux): every value is 0.
    pub available: bool,
}

/// `utime + stime` in ns from a `stat` line (fields 14 and 15; the name in
/// parentheses may hold spaces, so fields are counted after the last `)`).
fn stat_ns(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * TICK_NS)
}

impl CpuSnapshot {
    pub fn take() -> CpuSnapshot {
        let mut snap = CpuSnapshot::default();
        let Ok(process) = std::fs::read_to_string("/proc/self/stat") else {
            return snap;
        };
        let Some(process_ns) = stat_ns(&process) else {
            return snap;
        };
        snap.process_ns = process_ns;
        snap.available = true;
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return snap;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let dir = task.path();
            let Some(ticks_ns) = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| stat_ns(&s))
            else {
                continue;
            };
            let comm = std::fs::read_to_string(dir.join("comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            let precise_ns = std::fs::read_to_string(dir.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok());
            snap.threads.insert(
                tid,
                ThreadCpu {
                    comm,
                    ticks_ns,
                    precise_ns,
                },
            );
        }
        snap
    }

    /// CPU from `self` to `later`, split between emulator and engine threads.
    pub fn until(&self, later: &CpuSnapshot) -> CpuDelta {
        if !self.available || !later.available {
            return CpuDelta::default();
        }
        let (mut engine, mut emulator, mut live_ticks) = (0u64, 0u64, 0u64);
        let mut precise = true;
        for (tid, now) in &later.threads {
            let before = self.threads.get(tid).filter(|b| b.comm == now.comm);
            let both_precise =
                now.precise_ns.is_some() && before.is_none_or(|b| b.precise_ns.is_some());
            precise &= both_precise;
            let spent = if both_precise {
                now.ns().saturating_sub(before.map_or(0, ThreadCpu::ns))
            } else {
                now.ticks_ns
                    .saturating_sub(before.map_or(0, |b| b.ticks_ns))
            };
            live_ticks += now
                .ticks_ns
                .saturating_sub(before.map_or(0, |b| b.ticks_ns));
            if now.comm.starts_with(EMULATOR_THREAD_PREFIX) {
                emulator += spent;
            } else {
                engine += spent;
            }
        }
        let process = later.process_ns.saturating_sub(self.process_ns);
        // Per-thread ticks are rounded separately: allow one tick per thread of slack.
        let slack = TICK_NS * later.threads.len() as u64;
        let unattributed = process.saturating_sub(live_ticks + slack);
        let s = |ns: u64| ns as f64 / 1e9;
        CpuDelta {
            engine_s: s(engine),
            emulator_s: s(emulator),
            unattributed_s: s(unattributed),
            process_s: s(process),
            precise,
            available: true,
        }
    }
}

/// Resident memory from `/proc/self/status`, in MB (2^20 bytes).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_mb: f64,
    /// `VmHWM`: the peak since the last [`reset_peak`] (or since the process started).
    pub peak_mb: f64,
}

pub fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some(Memory {
        rss_mb: field("VmRSS:")?,
        peak_mb: field("VmHWM:")?,
    })
}

/// Reset `VmHWM` to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0),
/// so the next [`memory`] gives the peak of one phase. False when not possible.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_spaces_in_the_name() {
        let line = "42 (emu ghl) S 1 42 42 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_ns(line), Some(10 * TICK_NS));
        assert_eq!(stat_ns("garbage"), None);
    }

    #[test]
    fn own_threads_are_counted() {
        let a = CpuSnapshot::take();
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let d = a.until(&CpuSnapshot::take());
        if d.available {
            assert!(d.engine_s >= 0.0 && d.emulator_s == 0.0);
            assert!(memory().is_some_and(|m| m.rss_mb > 0.0));
        }
    }
}
