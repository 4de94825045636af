//! Checking a template without rendering it.

use crate::did_you_mean::distance;
use minijinja::machinery::{
    get_compiled_template, tokenize, Instruction, Instructions, Token, WhitespaceConfig,
};
use minijinja::syntax::SyntaxConfig;
use minijinja::Environment;

use super::{builtin, convert, TemplateError, FILTERS};

pub(crate) fn check(
    env: &Environment<'static>,
    t: &str,
    roots: &[&str],
) -> Result<(), TemplateError> {
    let env: &Environment<'_> = env;
    let tmpl = env
        .template_from_str(t)
        .map_err(|e| convert(&e, t, true).error)?;
    let compiled = get_compiled_template(&tmpl);
    for ins in std::iter::once(&compiled.instructions).chain(compiled.blocks.values()) {
        instructions(ins, t)?;
    }
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !roots.contains(&v.as_str()) && !builtin::FUNCTIONS.contains(&v.as_str()))
        .collect();
    unknown.sort_by_key(|v| find_ident(t, v, Role::Var).unwrap_or(usize::MAX));
    if let Some(v) = unknown.first() {
        return Err(TemplateError::new(
            format!(
                "unknown variable `{v}`{}: a template can use {}",
                suggest(v, roots),
                roots
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            find_ident(t, v, Role::Var),
        ));
    }
    Ok(())
}

/// Unknown filters and tests in one instruction list.
fn instructions(ins: &Instructions<'_>, t: &str) -> Result<(), TemplateError> {
    let offset_of = |idx: u32| {
        ins.get_span(idx)
            .map(|s| s.start_offset as usize)
            .or_else(|| ins.get_line(idx).map(|l| super::line_offset(t, l)))
    };
    for idx in 0..ins.len() as u32 {
        match ins.get(idx) {
            Some(Instruction::ApplyFilter(name, ..)) if !FILTERS.contains(name) => {
                let at = find_ident(t, name, Role::Filter).or_else(|| offset_of(idx));
                return Err(TemplateError::new(
                    format!("unknown filter `{name}`{}", suggest(name, FILTERS)),
                    at,
                ));
            }
            Some(Instruction::PerformTest(name, ..)) if !builtin::TESTS.contains(name) => {
                let at = find_ident(t, name, Role::Test).or_else(|| offset_of(idx));
                return Err(TemplateError::new(
                    format!("unknown test `{name}`{}", suggest(name, builtin::TESTS)),
                    at,
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// A variable: not after `.`, `|` or `is`.
    Var,
    /// A filter name: after `|` (or `filter`).
    Filter,
    /// A test name: after `is` or `is not`.
    Test,
}

/// Byte offset of the first identifier `name` in `t` used in `role`.
fn find_ident(t: &str, name: &str, role: Role) -> Option<usize> {
    let toks: Vec<_> = tokenize(t, false, SyntaxConfig, WhitespaceConfig::default())
        .map_while(Result::ok)
        .collect();
    (0..toks.len())
        .find(|&i| {
            if !matches!(toks[i].0, Token::Ident(n) if n == name) {
                return false;
            }
            let prev = i.checked_sub(1).map(|p| &toks[p].0);
            let prev2 = i.checked_sub(2).map(|p| &toks[p].0);
            match role {
                Role::Filter => matches!(prev, Some(Token::Pipe) | Some(Token::Ident("filter"))),
                Role::Test => {
                    matches!(prev, Some(Token::Ident("is")))
                        || (matches!(prev, Some(Token::Ident("not")))
                            && matches!(prev2, Some(Token::Ident("is"))))
                }
                Role::Var => !matches!(
                    prev,
                    Some(Token::Dot) | Some(Token::Pipe) | Some(Token::Ident("is"))
                ),
            }
        })
        .map(|i| toks[i].1.start_offset as usize)
}

/// ` (did you mean `x`?)` when a known name is close.
pub(crate) fn suggest(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) && *d < name.len().max(1))
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}
