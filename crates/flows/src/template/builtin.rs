//! Registration of minijinja's own filters, tests and functions that flows allow.

use minijinja::{filters as f, functions as func, tests as t, Environment};

/// Tests usable with `is` (`{% if x is defined %}`).
pub const TESTS: &[&str] = &[
    "undefined",
    "defined",
    "none",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "lessthan",
    "<",
    "le",
    "<=",
    "gt",
    "greaterthan",
    ">",
    "ge",
    ">=",
    "in",
    "true",
    "false",
];

/// Global functions (`range(3)`, `dict(a=1)`).
pub const FUNCTIONS: &[&str] = &["range", "dict"];

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("lower", f::lower);
    env.add_filter("upper", f::upper);
    env.add_filter("title", f::title);
    env.add_filter("capitalize", f::capitalize);
    env.add_filter("replace", f::replace);
    env.add_filter("length", f::length);
    env.add_filter("count", f::length);
    env.add_filter("dictsort", f::dictsort);
    env.add_filter("items", f::items);
    env.add_filter("reverse", f::reverse);
    env.add_filter("trim", f::trim);
    env.add_filter("join", f::join);
    env.add_filter("split", f::split);
    env.add_filter("lines", f::lines);
    env.add_filter("default", f::default);
    env.add_filter("d", f::default);
    env.add_filter("round", f::round);
    env.add_filter("abs", f::abs);
    env.add_filter("int", f::int);
    env.add_filter("float", f::float);
    env.add_filter("attr", f::attr);
    env.add_filter("first", f::first);
    env.add_filter("last", f::last);
    env.add_filter("min", f::min);
    env.add_filter("max", f::max);
    env.add_filter("sort", f::sort);
    env.add_filter("list", f::list);
    env.add_filter("string", f::string);
    env.add_filter("bool", f::bool);
    env.add_filter("batch", f::batch);
    env.add_filter("slice", f::slice);
    env.add_filter("sum", f::sum);
    env.add_filter("indent", f::indent);
    env.add_filter("select", f::select);
    env.add_filter("reject", f::reject);
    env.add_filter("selectattr", f::selectattr);
    env.add_filter("rejectattr", f::rejectattr);
    env.add_filter("map", f::map);
    env.add_filter("groupby", f::groupby);
    env.add_filter("unique", f::unique);
    env.add_filter("chain", f::chain);
    env.add_filter("zip", f::zip);
    env.add_filter("format", f::format);
    env.add_filter("tojson", f::tojson);

    env.add_test("undefined", t::is_undefined);
    env.add_test("defined", t::is_defined);
    env.add_test("none", t::is_none);
    env.add_test("boolean", t::is_boolean);
    env.add_test("odd", t::is_odd);
    env.add_test("even", t::is_even);
    env.add_test("divisibleby", t::is_divisibleby);
    env.add_test("number", t::is_number);
    env.add_test("integer", t::is_integer);
    env.add_test("float", t::is_float);
    env.add_test("string", t::is_string);
    env.add_test("sequence", t::is_sequence);
    env.add_test("iterable", t::is_iterable);
    env.add_test("mapping", t::is_mapping);
    env.add_test("startingwith", t::is_startingwith);
    env.add_test("endingwith", t::is_endingwith);
    env.add_test("lower", t::is_lower);
    env.add_test("upper", t::is_upper);
    env.add_test("sameas", t::is_sameas);
    for n in ["eq", "equalto", "=="] {
        env.add_test(n, t::is_eq);
    }
    for n in ["ne", "!="] {
        env.add_test(n, t::is_ne);
    }
    for n in ["lt", "lessthan", "<"] {
        env.add_test(n, t::is_lt);
    }
    for n in ["le", "<="] {
        env.add_test(n, t::is_le);
    }
    for n in ["gt", "greaterthan", ">"] {
        env.add_test(n, t::is_gt);
    }
    for n in ["ge", ">="] {
        env.add_test(n, t::is_ge);
    }
    env.add_test("in", t::is_in);
    env.add_test("true", t::is_true);
    env.add_test("false", t::is_false);

    env.add_function("range", func::range);
    env.add_function("dict", func::dict);
}
