//! Exit codes and how errors are shown.

use hlbridge_core::error::Error;
use serde_json::json;

/// 0 success, 1 the API refused or failed, 2 bad input (nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Api = 1,
    Usage = 2,
}

/// Print `e` on standard error (one line, or a JSON object with `--json`) and pick the
/// exit code.
pub fn print_error(e: &Error, json: bool) -> Exit {
    let exit = if e.is_input_error() {
        Exit::Usage
    } else {
        Exit::Api
    };
    if json {
        let body = json!({
            "error": {
                "kind": kind(e),
                "status": e.status(),
                "message": e.to_string(),
                "traceId": e.trace_id(),
                "body": e.body(),
            }
        });
        eprintln!("{body}");
    } else {
        let line = e.to_string().replace('\n', " ");
        eprintln!("error: {line}");
    }
    exit
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Auth { .. } => "authentication",
        Error::Forbidden { .. } => "forbidden",
        Error::NotFound { .. } => "not_found",
        Error::Validation { .. } => "validation",
        Error::RateLimited { .. } => "rate_limited",
        Error::DailyLimitReached { .. } => "daily_limit",
        Error::PlanQuota { .. } => "plan_quota",
        Error::Server { .. } => "server",
        Error::Api { .. } => "api",
        Error::Network(_) => "network",
        Error::Timeout(_) => "timeout",
        Error::Decode(_) => "decode",
        Error::InvalidInput(_) => "invalid_input",
        Error::NotPermitted(_) => "not_permitted",
        Error::Config(_) => "config",
        Error::TokenStore(_) => "token_store",
    }
}

/// Print one line on standard output. A closed pipe (`hlbridge ... | head`) ends the
/// program quietly instead of panicking.
pub fn emit(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}
