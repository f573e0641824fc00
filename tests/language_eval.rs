//! The meaning of every operator of the condition language (LANGUAGE.md), as a table: for each
//! operator a matching record, a non-matching one, a null value, a missing field and a value of
//! the wrong type, with the expected three-valued result. Every row is evaluated twice, by the
//! compiled program (`Condition::eval`) and by the reference interpreter
//! (`Condition::eval_reference`), and both must give the expected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use herald::condition::Condition;
use herald::schema::{Field, FieldType, Schema};
use herald::value::{FixedClock, Truth};
use serde_json::{Value, json};

const T: Truth = Truth::True;
const F: Truth = Truth::False;
const U: Truth = Truth::Unknown;

/// The pinned evaluation clock: Saturday 31 January 2026, 09:30 UTC.
fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 1, 31, 9, 30, 0).unwrap())
}

/// Evaluates every row and reports every disagreement at once.
fn check_with(schema: Option<&Schema>, clock: &FixedClock, rows: &[(&str, Value, Truth)]) {
    let mut failures = Vec::new();
    for (cond, record, want) in rows {
        let c = match Condition::compile(cond, schema) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("`{cond}` does not compile:\n{}", e.render()));
                continue;
            }
        };
        let fast = c.eval(record, clock);
        let reference = c.eval_reference(record, clock);
        if fast != *want || reference != *want {
            failures.push(format!(
                "`{cond}` on {record}: want {want}, compiled gives {fast}, interpreter gives {reference}"
            ));
        }
        assert_eq!(c.matches(record, clock), fast == T);
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(rows: &[(&str, Value, Truth)]) {
    check_with(None, &clock(), rows);
}

// ---------------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------------

#[test]
fn equals() {
    check(&[
        // matching, not matching, null, missing, type mismatch
        ("x == 1", json!({"x": 1}), T),
        ("x == 1", json!({"x": 2}), F),
        ("x == 1", json!({"x": null}), U),
        ("x == 1", json!({}), U),
        ("x == 1", json!({"x": "1"}), U),
        ("x == 1", json!({"x": true}), U),
        ("x == 1", json!({"x": [1]}), U),
        ("x == 1", json!({"x": {"y": 1}}), U),
        // Strings compare exactly, case-sensitively.
        ("s == \"paid\"", json!({"s": "paid"}), T),
        ("s == \"paid\"", json!({"s": "Paid"}), F),
        ("s == \"paid\"", json!({"s": "paid "}), F),
        ("s == \"paid\"", json!({"s": null}), U),
        ("s == \"paid\"", json!({}), U),
        ("s == \"paid\"", json!({"s": 1}), U),
        ("s == \"é\"", json!({"s": "é"}), T),
        // "e" + combining acute accent is not the precomposed "é" (scalar values, no normalization).
        ("s == \"é\"", json!({"s": "e\u{301}"}), F),
        // Booleans.
        ("b == true", json!({"b": true}), T),
        ("b == true", json!({"b": false}), F),
        ("b == true", json!({"b": null}), U),
        ("b == true", json!({}), U),
        ("b == true", json!({"b": "true"}), U),
        ("b == true", json!({"b": 1}), U),
        // Literal with literal.
        ("\"a\" == \"a\"", json!({}), T),
        ("1 == 2", json!({}), F),
        // Field with field.
        ("a == b", json!({"a": 1, "b": 1.0}), T),
        ("a == b", json!({"a": "x", "b": "y"}), F),
        ("a == b", json!({"a": "x"}), U),
        ("a == b", json!({"a": "1", "b": 1}), U),
        // Nested paths; back-quoted labels.
        (
            "address.city == \"Paris\"",
            json!({"address": {"city": "Paris"}}),
            T,
        ),
        (
            "address.city == \"Paris\"",
            json!({"address": {"city": "Lyon"}}),
            F,
        ),
        (
            "address.city == \"Paris\"",
            json!({"address": {"city": null}}),
            U,
        ),
        ("address.city == \"Paris\"", json!({"address": null}), U),
        ("address.city == \"Paris\"", json!({"address": "Paris"}), U),
        ("address.city == \"Paris\"", json!({}), U),
        (
            "`Mailing Country` == \"FR\"",
            json!({"Mailing Country": "FR"}),
            T,
        ),
        ("`in` == 1", json!({"in": 1}), T),
        ("`a.b` == 1", json!({"a.b": 1}), T),
        ("`a.b` == 1", json!({"a": {"b": 1}}), U),
    ]);
}

#[test]
fn not_equals() {
    check(&[
        ("x != 1", json!({"x": 2}), T),
        ("x != 1", json!({"x": 1}), F),
        ("x != 1", json!({"x": 1.0}), F),
        ("x != 1", json!({"x": null}), U),
        ("x != 1", json!({}), U),
        ("x != 1", json!({"x": "a"}), U),
        ("s != \"FR\"", json!({"s": "BE"}), T),
        ("s != \"FR\"", json!({"s": "FR"}), F),
        ("s != \"FR\"", json!({}), U),
        ("s != \"FR\"", json!({"s": false}), U),
    ]);
}

#[test]
fn integer_and_decimal_compare_numerically() {
    check(&[
        ("1 == 1.0", json!({}), T),
        ("1 != 1.0", json!({}), F),
        ("1 < 1.5", json!({}), T),
        ("x == 1.0", json!({"x": 1}), T),
        ("x == 1", json!({"x": 1.0}), T),
        ("x == 1.5", json!({"x": 1}), F),
        ("x > 0.5", json!({"x": 1}), T),
        ("x <= 2", json!({"x": 1.999}), T),
        ("x == -3", json!({"x": -3}), T),
        ("x == 1_000", json!({"x": 1000}), T),
        ("x == 1000.50", json!({"x": 1000.5}), T),
        ("x == -0.0", json!({"x": 0}), T),
        // Exact: 2^53 + 1 as an integer is not the float 2^53.
        (
            "x == 9007199254740993",
            json!({"x": 9_007_199_254_740_993_i64}),
            T,
        ),
        (
            "x == 9007199254740992.0",
            json!({"x": 9_007_199_254_740_993_i64}),
            F,
        ),
        (
            "x > 9007199254740992.0",
            json!({"x": 9_007_199_254_740_993_i64}),
            T,
        ),
        // The largest integers and u64 values beyond i64 (read as decimals).
        ("x == 9223372036854775807", json!({"x": i64::MAX}), T),
        ("x == -9223372036854775808", json!({"x": i64::MIN}), T),
        ("x > 9223372036854775807", json!({"x": u64::MAX}), T),
        ("x == 9223372036854775807", json!({"x": u64::MAX}), F),
        ("x > 9223372036854775807", json!({"x": 9.3e18}), T),
        ("x < 9223372036854775807", json!({"x": 9.2e18}), T),
        ("x > 100", json!({"x": 1e300}), T),
    ]);
}

#[test]
fn ordering() {
    check(&[
        // Numbers.
        ("x < 10", json!({"x": 9}), T),
        ("x < 10", json!({"x": 10}), F),
        ("x < 10", json!({"x": null}), U),
        ("x < 10", json!({}), U),
        ("x < 10", json!({"x": "9"}), U),
        ("x <= 10", json!({"x": 10}), T),
        ("x <= 10", json!({"x": 11}), F),
        ("x <= 10", json!({}), U),
        ("x <= 10", json!({"x": [10]}), U),
        ("x > 10", json!({"x": 11}), T),
        ("x > 10", json!({"x": 10}), F),
        ("x > 10", json!({"x": null}), U),
        ("x > 10", json!({"x": true}), U),
        ("x >= 10", json!({"x": 10}), T),
        ("x >= 10", json!({"x": 9.99}), F),
        ("x >= 10", json!({}), U),
        ("x >= 10", json!({"x": {"v": 10}}), U),
        // Strings: by Unicode scalar value, so upper case sorts before lower case.
        ("s < \"b\"", json!({"s": "a"}), T),
        ("s < \"b\"", json!({"s": "c"}), F),
        ("s < \"b\"", json!({"s": "B"}), T),
        ("s > \"z\"", json!({"s": "é"}), T),
        ("s >= \"abc\"", json!({"s": "abc"}), T),
        ("s < \"b\"", json!({"s": 1}), U),
        // Booleans are not ordered (with a literal it is a compile error).
        ("a < b", json!({"a": false, "b": true}), U),
        // Dates and date-times.
        ("d < @2026-02-01", json!({"d": "2026-01-31"}), T),
        ("d < @2026-02-01", json!({"d": "2026-02-01"}), F),
        ("d >= @2026-02-01", json!({"d": "2026-02-01T00:00:00Z"}), T),
        (
            "d > @2026-01-31T09:00:00Z",
            json!({"d": "2026-01-31T10:00:00+01:00"}),
            F,
        ),
        (
            "d > @2026-01-31T09:00:00Z",
            json!({"d": "2026-01-31T10:00:01+01:00"}),
            T,
        ),
    ]);
}

#[test]
fn dates_and_date_times() {
    check(&[
        // A date compares with a date-time as the date at 00:00 UTC.
        ("@2026-01-31 == @2026-01-31T00:00:00Z", json!({}), T),
        ("@2026-01-31 == @2026-01-31T01:00:00+01:00", json!({}), T),
        ("@2026-01-31 == @2026-01-31T00:00:00-05:00", json!({}), F),
        ("@2026-01-31 < @2026-01-31T00:00:01Z", json!({}), T),
        (
            "@2026-01-31T09:30:00Z == @2026-01-31T10:30:00+01:00",
            json!({}),
            T,
        ),
        // Without a schema a string compared with a date is parsed at that point.
        ("d == @2026-01-31", json!({"d": "2026-01-31"}), T),
        ("d == @2026-01-31", json!({"d": "2026-01-30"}), F),
        ("d == @2026-01-31", json!({"d": null}), U),
        ("d == @2026-01-31", json!({}), U),
        ("d == @2026-01-31", json!({"d": 20_260_131}), U),
        ("d == @2026-01-31", json!({"d": "31/01/2026"}), U),
        ("d == @2026-01-31", json!({"d": "2026-1-31"}), U),
        ("d == @2026-01-31", json!({"d": "2026-01-31T00:00:00Z"}), T),
        ("d == @2026-01-31", json!({"d": "2026-01-31T09:00:00Z"}), F),
        // An RFC 3339 date-time needs an offset.
        ("d == @2026-01-31", json!({"d": "2026-01-31T00:00:00"}), U),
        ("d != @2026-01-31", json!({"d": "not a date"}), U),
        (
            "d < @2026-02-01",
            json!({"d": "2026-01-31T23:59:59-05:00"}),
            F,
        ),
        (
            "d < @2026-02-01",
            json!({"d": "2026-01-31T23:59:59+01:00"}),
            T,
        ),
        (
            "d in [@2026-01-31, @2026-02-01]",
            json!({"d": "2026-02-01"}),
            T,
        ),
        (
            "d in [@2026-01-31, @2026-02-01]",
            json!({"d": "2026-02-02"}),
            F,
        ),
        ("d in [@2026-01-31, @2026-02-01]", json!({"d": "soon"}), U),
        // A string field with a string literal stays a string comparison.
        ("d == \"2026-01-31\"", json!({"d": "2026-01-31"}), T),
        ("d < \"2026-02\"", json!({"d": "2026-01-31"}), T),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Lists and text
// ---------------------------------------------------------------------------------------------

#[test]
fn in_list() {
    check(&[
        ("c in [\"FR\", \"BE\"]", json!({"c": "FR"}), T),
        ("c in [\"FR\", \"BE\"]", json!({"c": "DE"}), F),
        ("c in [\"FR\", \"BE\"]", json!({"c": "fr"}), F),
        ("c in [\"FR\", \"BE\"]", json!({"c": null}), U),
        ("c in [\"FR\", \"BE\"]", json!({}), U),
        ("c in [\"FR\", \"BE\"]", json!({"c": 1}), U),
        ("c in [\"FR\", \"BE\"]", json!({"c": ["FR"]}), U),
        ("x in [1, 2]", json!({"x": 2.0}), T),
        ("x in [1.5, 2]", json!({"x": 2}), T),
        ("x in []", json!({"x": 1}), F),
        ("x in []", json!({}), U),
        ("x in [1, 2,]", json!({"x": 1}), T),
        // A list-valued field on the right.
        ("x in L", json!({"x": "a", "L": ["a", "b"]}), T),
        ("x in L", json!({"x": "c", "L": ["a", "b"]}), F),
        ("x in L", json!({"x": "c", "L": null}), U),
        ("x in L", json!({"x": "c"}), U),
        ("x in L", json!({"x": "a", "L": "abc"}), U),
        // SQL: a null element makes a miss unknown, a hit is still a hit.
        ("x in L", json!({"x": 1, "L": [2, null]}), U),
        ("x in L", json!({"x": 2, "L": [2, null]}), T),
    ]);
}

#[test]
fn not_in_list() {
    check(&[
        ("c not in [\"FR\", \"BE\"]", json!({"c": "DE"}), T),
        ("c not in [\"FR\", \"BE\"]", json!({"c": "BE"}), F),
        ("c not in [\"FR\", \"BE\"]", json!({"c": null}), U),
        ("c not in [\"FR\", \"BE\"]", json!({}), U),
        ("c not in [\"FR\", \"BE\"]", json!({"c": 7}), U),
        ("x not in []", json!({"x": 1}), T),
        // SQL's NOT IN trap: a null in the list makes every miss unknown.
        ("x not in L", json!({"x": 1, "L": [2, null]}), U),
        ("x not in L", json!({"x": 2, "L": [2, null]}), F),
        ("x not in L", json!({"x": 1, "L": [2, 3]}), T),
    ]);
}

#[test]
fn contains_text() {
    check(&[
        ("s contains \"bc\"", json!({"s": "abcd"}), T),
        ("s contains \"bc\"", json!({"s": "xyz"}), F),
        ("s contains \"bc\"", json!({"s": "BC"}), F),
        ("s contains \"bc\"", json!({"s": null}), U),
        ("s contains \"bc\"", json!({}), U),
        ("s contains \"bc\"", json!({"s": 123}), U),
        ("s contains \"\"", json!({"s": "abc"}), T),
        ("s contains \"\"", json!({"s": ""}), T),
        ("lower(s) contains \"bc\"", json!({"s": "ABCD"}), T),
        ("s contains t", json!({"s": "abc", "t": "b"}), T),
        ("s contains t", json!({"s": "abc"}), U),
    ]);
}

#[test]
fn contains_list() {
    check(&[
        ("L contains \"vip\"", json!({"L": ["vip", "beta"]}), T),
        ("L contains \"vip\"", json!({"L": ["beta"]}), F),
        ("L contains \"vip\"", json!({"L": []}), F),
        ("L contains \"vip\"", json!({"L": null}), U),
        ("L contains \"vip\"", json!({}), U),
        ("L contains \"vip\"", json!({"L": {"vip": true}}), U),
        ("L contains \"vip\"", json!({"L": [1, 2]}), U),
        ("L contains \"vip\"", json!({"L": [1, "vip"]}), T),
        ("L contains \"vip\"", json!({"L": ["beta", null]}), U),
        ("L contains 2", json!({"L": [1, 2.0]}), T),
    ]);
}

#[test]
fn contains_any() {
    check(&[
        ("L contains any [\"a\", \"b\"]", json!({"L": ["b", "c"]}), T),
        ("L contains any [\"a\", \"b\"]", json!({"L": ["c"]}), F),
        ("L contains any [\"a\", \"b\"]", json!({"L": []}), F),
        ("L contains any [\"a\", \"b\"]", json!({"L": null}), U),
        ("L contains any [\"a\", \"b\"]", json!({}), U),
        ("L contains any [\"a\", \"b\"]", json!({"L": "ab"}), U),
        ("L contains any [\"a\", \"b\"]", json!({"L": [1]}), U),
        ("L contains any []", json!({"L": ["a"]}), F),
        ("L contains any M", json!({"L": ["a"], "M": ["a"]}), T),
        ("L contains any M", json!({"L": ["a"], "M": "a"}), U),
    ]);
}

#[test]
fn contains_all() {
    check(&[
        (
            "L contains all [\"a\", \"b\"]",
            json!({"L": ["a", "b", "c"]}),
            T,
        ),
        ("L contains all [\"a\", \"b\"]", json!({"L": ["b", "a"]}), T),
        ("L contains all [\"a\", \"b\"]", json!({"L": ["a"]}), F),
        ("L contains all [\"a\", \"b\"]", json!({"L": null}), U),
        ("L contains all [\"a\", \"b\"]", json!({}), U),
        ("L contains all [\"a\", \"b\"]", json!({"L": "ab"}), U),
        ("L contains all [\"a\", \"b\"]", json!({"L": ["a", 2]}), U),
        ("L contains all []", json!({"L": ["a"]}), T),
        ("L contains all []", json!({"L": []}), T),
    ]);
}

#[test]
fn starts_with_and_ends_with() {
    check(&[
        ("s starts with \"ab\"", json!({"s": "abc"}), T),
        ("s starts with \"ab\"", json!({"s": "xabc"}), F),
        ("s starts with \"ab\"", json!({"s": "ABc"}), F),
        ("s starts with \"ab\"", json!({"s": null}), U),
        ("s starts with \"ab\"", json!({}), U),
        ("s starts with \"ab\"", json!({"s": 12}), U),
        ("s starts with \"ab\"", json!({"s": ["ab"]}), U),
        ("s starts with \"\"", json!({"s": "x"}), T),
        ("s ends with \".fr\"", json!({"s": "anne@example.fr"}), T),
        ("s ends with \".fr\"", json!({"s": "anne@example.de"}), F),
        ("s ends with \".fr\"", json!({"s": null}), U),
        ("s ends with \".fr\"", json!({}), U),
        ("s ends with \".fr\"", json!({"s": false}), U),
        ("s ends with \"é\"", json!({"s": "café"}), T),
    ]);
}

#[test]
fn matches_regex() {
    check(&[
        (
            "e matches \"@example\\\\.fr$\"",
            json!({"e": "anne@example.fr"}),
            T,
        ),
        (
            "e matches \"@example\\\\.fr$\"",
            json!({"e": "anne@exampleXfr"}),
            F,
        ),
        ("e matches \"@example\\\\.fr$\"", json!({"e": null}), U),
        ("e matches \"@example\\\\.fr$\"", json!({}), U),
        ("e matches \"@example\\\\.fr$\"", json!({"e": 5}), U),
        // A search anywhere in the text, not a whole-text match.
        ("e matches \"b\"", json!({"e": "abc"}), T),
        ("e matches \"^b\"", json!({"e": "abc"}), F),
        (
            "e matches \"(?i)^ANNE\"",
            json!({"e": "anne@example.fr"}),
            T,
        ),
        ("e matches \"^\\\\p{Lu}\"", json!({"e": "Émile"}), T),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Tests that are never unknown, and `??`
// ---------------------------------------------------------------------------------------------

#[test]
fn is_null_and_is_not_null() {
    check(&[
        ("x is null", json!({"x": null}), T),
        ("x is null", json!({}), T),
        ("x is null", json!({"x": 1}), F),
        ("x is null", json!({"x": ""}), F),
        ("x is null", json!({"x": []}), F),
        ("x is null", json!({"x": {}}), F),
        ("x is null", json!({"x": false}), F),
        ("x is not null", json!({"x": 0}), T),
        ("x is not null", json!({"x": {}}), T),
        ("x is not null", json!({"x": null}), F),
        ("x is not null", json!({}), F),
        ("a.b is null", json!({"a": 5}), T),
        // An unknown comparison is null too.
        ("(x == 1) is null", json!({}), T),
        ("(x == 1) is null", json!({"x": 1}), F),
    ]);
}

#[test]
fn is_empty_and_is_not_empty() {
    check(&[
        ("x is empty", json!({"x": ""}), T),
        ("x is empty", json!({"x": []}), T),
        ("x is empty", json!({"x": null}), T),
        ("x is empty", json!({}), T),
        ("x is empty", json!({"x": " "}), F),
        ("x is empty", json!({"x": "a"}), F),
        ("x is empty", json!({"x": [null]}), F),
        ("x is empty", json!({"x": 0}), F),
        ("x is empty", json!({"x": false}), F),
        ("x is empty", json!({"x": {}}), F),
        ("trim(x) is empty", json!({"x": "  "}), T),
        ("x is not empty", json!({"x": "a"}), T),
        ("x is not empty", json!({"x": 0}), T),
        ("x is not empty", json!({"x": ""}), F),
        ("x is not empty", json!({"x": []}), F),
        ("x is not empty", json!({}), F),
    ]);
}

#[test]
fn coalesce() {
    check(&[
        ("(x ?? 5) == 5", json!({}), T),
        ("(x ?? 5) == 5", json!({"x": null}), T),
        ("(x ?? 5) == 5", json!({"x": 3}), F),
        ("(x ?? 5) == 5", json!({"x": 5.0}), T),
        ("(x ?? 5) == 5", json!({"x": "a"}), U),
        ("x ?? 5 == 5", json!({}), T),
        ("(x ?? y) == 1", json!({}), U),
        ("(x ?? y) == 1", json!({"y": 1}), T),
        ("(x ?? y ?? 1) == 1", json!({}), T),
        ("(x ?? y ?? 1) == 1", json!({"y": 2}), F),
        // An empty string is not null.
        ("(x ?? \"d\") == \"d\"", json!({"x": ""}), F),
        ("x ?? false", json!({}), F),
        ("x ?? false", json!({"x": true}), T),
        ("(x ?? @2026-01-01) < today()", json!({}), T),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Dates, durations, functions, the clock
// ---------------------------------------------------------------------------------------------

#[test]
fn date_plus_and_minus_duration() {
    check(&[
        ("d > today() - 30d", json!({"d": "2026-01-15"}), T),
        ("d > today() - 30d", json!({"d": "2025-12-01"}), F),
        ("d > today() - 30d", json!({"d": null}), U),
        ("d > today() - 30d", json!({}), U),
        ("d > today() - 30d", json!({"d": "15/01/2026"}), U),
        ("d > today() - 30d", json!({"d": 5}), U),
        ("d > today() - 30d", json!({"d": "2026-01-01T00:00:01Z"}), T),
        ("@2026-01-31 + 1d == @2026-02-01", json!({}), T),
        ("@2026-01-31 + 2w == @2026-02-14", json!({}), T),
        ("@2026-03-01 - 1d == @2026-02-28", json!({}), T),
        ("@2028-03-01 - 1d == @2028-02-29", json!({}), T),
        ("@2026-01-31 - 0d == @2026-01-31", json!({}), T),
        // A date plus hours or minutes is a date-time (the date at 00:00 UTC, moved).
        ("@2026-01-31 + 12h == @2026-01-31T12:00:00Z", json!({}), T),
        ("@2026-01-31 + 90m == @2026-01-31T01:30:00Z", json!({}), T),
        ("@2026-01-31 - 1h == @2026-01-30T23:00:00Z", json!({}), T),
        // Whole days stay a date; durations add up before that is decided.
        ("@2026-01-31 + 24h == @2026-02-01", json!({}), T),
        ("@2026-01-31 + 12h + 12h == @2026-02-01", json!({}), T),
        ("@2026-01-31 + 1d + 12h - 12h == @2026-02-01", json!({}), T),
        (
            "@2026-01-31T23:00:00Z + 2h == @2026-02-01T01:00:00Z",
            json!({}),
            T,
        ),
        (
            "@2026-01-31T23:00:00+01:00 + 1d == @2026-02-01T22:00:00Z",
            json!({}),
            T,
        ),
        ("now() - 15m == @2026-01-31T09:15:00Z", json!({}), T),
        ("now() + 1w > @2026-02-07", json!({}), T),
        // A string field without a schema is parsed when a duration is added.
        ("d + 1d == @2026-02-01", json!({"d": "2026-01-31"}), T),
        ("d + 1d == @2026-02-01", json!({"d": "2026-01-30"}), F),
        ("d + 1d == @2026-02-01", json!({"d": "tomorrow"}), U),
        ("d + 1d == @2026-02-01", json!({"d": null}), U),
        ("d + 1d == @2026-02-01", json!({}), U),
        ("d + 1d == @2026-02-01", json!({"d": 1}), U),
        (
            "d + 12h == @2026-01-31T12:00:00Z",
            json!({"d": "2026-01-31"}),
            T,
        ),
        // Out of the calendar's range: unknown, not an error.
        ("@2026-01-31 + 15000000000w > @2026-01-01", json!({}), U),
        (
            "d + 15000000000w > @2026-01-01",
            json!({"d": "2026-01-31"}),
            U,
        ),
    ]);
}

#[test]
fn text_functions() {
    check(&[
        ("lower(s) == \"anne\"", json!({"s": "ANNE"}), T),
        ("lower(s) == \"anne\"", json!({"s": "Bob"}), F),
        ("lower(s) == \"anne\"", json!({"s": null}), U),
        ("lower(s) == \"anne\"", json!({}), U),
        ("lower(s) == \"anne\"", json!({"s": 1}), U),
        ("lower(s) == \"émile\"", json!({"s": "ÉMILE"}), T),
        ("upper(s) == \"ÉTÉ\"", json!({"s": "été"}), T),
        ("upper(s) == \"ÉTÉ\"", json!({"s": "ete"}), F),
        ("upper(s) == \"ÉTÉ\"", json!({"s": null}), U),
        ("upper(s) == \"ÉTÉ\"", json!({}), U),
        ("upper(s) == \"ÉTÉ\"", json!({"s": ["été"]}), U),
        ("upper(s) == \"STRASSE\"", json!({"s": "straße"}), T),
        ("trim(s) == \"a\"", json!({"s": "  a \t\n"}), T),
        ("trim(s) == \"a\"", json!({"s": "a b"}), F),
        ("trim(s) == \"a\"", json!({"s": null}), U),
        ("trim(s) == \"a\"", json!({}), U),
        ("trim(s) == \"a\"", json!({"s": true}), U),
        ("len(s) == 3", json!({"s": "abc"}), T),
        ("len(s) == 3", json!({"s": "ab"}), F),
        ("len(s) == 3", json!({"s": null}), U),
        ("len(s) == 3", json!({}), U),
        ("len(s) == 3", json!({"s": 123}), U),
        // Characters (Unicode scalar values), not bytes.
        ("len(s) == 3", json!({"s": "été"}), T),
        ("len(s) == 3", json!({"s": ["a", "b", "c"]}), T),
        ("len(s) == 0", json!({"s": []}), T),
        ("len(s) == 0", json!({"s": ""}), T),
        ("len(s) == 1", json!({"s": {"a": 1}}), U),
        ("lower(upper(trim(s))) == \"x\"", json!({"s": " X "}), T),
    ]);
}

#[test]
fn today_and_now() {
    check(&[
        ("today() == @2026-01-31", json!({}), T),
        ("today() == @2026-01-30", json!({}), F),
        ("now() == @2026-01-31T09:30:00Z", json!({}), T),
        ("now() == @2026-01-31T10:30:00+01:00", json!({}), T),
        ("now() > today()", json!({}), T),
        ("today() < now()", json!({}), T),
        ("d == today()", json!({"d": "2026-01-31"}), T),
        ("d == today()", json!({"d": "2026-01-30"}), F),
        ("d == today()", json!({"d": null}), U),
        ("d == today()", json!({}), U),
        ("d == today()", json!({"d": true}), U),
        ("d < now()", json!({"d": "2026-01-31T09:29:59Z"}), T),
        ("d < now()", json!({"d": "2026-01-31T10:29:59+01:00"}), T),
        ("d < now()", json!({"d": "2026-01-31T09:30:00Z"}), F),
    ]);
}

#[test]
fn today_is_the_utc_date_of_the_clock() {
    // 23:30 UTC on 31 January is already 1 February in Paris; `today()` is the UTC date.
    let late = FixedClock(Utc.with_ymd_and_hms(2026, 1, 31, 23, 30, 0).unwrap());
    check_with(
        None,
        &late,
        &[
            ("today() == @2026-01-31", json!({}), T),
            ("now() == @2026-02-01T00:30:00+01:00", json!({}), T),
            ("now() > @2026-02-01", json!({}), F),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Kleene logic and the null traps
// ---------------------------------------------------------------------------------------------

/// `true`, `false` and an unknown (a missing field) as condition operands.
const OPERANDS: [(&str, Truth); 3] = [("true", T), ("false", F), ("u", U)];

#[test]
fn and_truth_table() {
    let want = |a: Truth, b: Truth| match (a, b) {
        (F, _) | (_, F) => F,
        (T, T) => T,
        _ => U,
    };
    let mut rows = Vec::new();
    for (a, ta) in OPERANDS {
        for (b, tb) in OPERANDS {
            rows.push((format!("{a} and {b}"), json!({}), want(ta, tb)));
        }
    }
    let rows: Vec<(&str, Value, Truth)> = rows
        .iter()
        .map(|(c, r, t)| (c.as_str(), r.clone(), *t))
        .collect();
    check(&rows);
    assert_eq!(want(F, U), F);
    assert_eq!(want(T, U), U);
}

#[test]
fn or_truth_table() {
    let want = |a: Truth, b: Truth| match (a, b) {
        (T, _) | (_, T) => T,
        (F, F) => F,
        _ => U,
    };
    let mut rows = Vec::new();
    for (a, ta) in OPERANDS {
        for (b, tb) in OPERANDS {
            rows.push((format!("{a} or {b}"), json!({}), want(ta, tb)));
        }
    }
    let rows: Vec<(&str, Value, Truth)> = rows
        .iter()
        .map(|(c, r, t)| (c.as_str(), r.clone(), *t))
        .collect();
    check(&rows);
    assert_eq!(want(T, U), T);
    assert_eq!(want(F, U), U);
}

#[test]
fn not_truth_table() {
    check(&[
        ("not true", json!({}), F),
        ("not false", json!({}), T),
        ("not u", json!({}), U),
        ("not not u", json!({}), U),
        ("not not true", json!({}), T),
    ]);
}

#[test]
fn kleene_logic_on_records() {
    check(&[
        // Every operand matters, whatever its position.
        ("x == 1 and y == 1", json!({"x": 1, "y": 1}), T),
        ("x == 1 and y == 1", json!({"x": 2}), F),
        ("x == 1 and y == 1", json!({"y": 2}), F),
        ("x == 1 and y == 1", json!({"x": 1}), U),
        ("x == 1 or y == 1", json!({"y": 1}), T),
        ("x == 1 or y == 1", json!({"x": 2}), U),
        ("x == 1 or y == 1", json!({"x": 2, "y": 2}), F),
        ("false and u and true", json!({}), F),
        ("true and u and true", json!({}), U),
        ("false or u or false", json!({}), U),
        ("u or true or u", json!({}), T),
        // `not` binds tighter than `and`, `and` tighter than `or`.
        ("not x == 1 and y == 1", json!({"x": 2, "y": 1}), T),
        ("true or false and false", json!({}), T),
        ("(true or false) and false", json!({}), F),
        ("not false and false", json!({}), F),
        ("not (false and false)", json!({}), T),
        // De Morgan holds in three-valued logic.
        ("not (x == 1 and y == 1)", json!({"x": 2}), T),
        ("not (x == 1 and y == 1)", json!({"x": 1}), U),
        ("not (x == 1 or y == 1)", json!({"x": 2}), U),
        ("not (x == 1 or y == 1)", json!({"x": 2, "y": 2}), T),
        // A field alone is a condition when it holds a boolean.
        ("b", json!({"b": true}), T),
        ("b", json!({"b": false}), F),
        ("b", json!({"b": null}), U),
        ("b", json!({}), U),
        ("b", json!({"b": "true"}), U),
        ("b", json!({"b": 1}), U),
        ("b and c", json!({"b": true, "c": "yes"}), U),
    ]);
}

#[test]
fn null_traps() {
    check(&[
        // Missing data never sends an invite: `not` of unknown is unknown.
        ("not Opted_Out", json!({}), U),
        ("not Opted_Out", json!({"Opted_Out": null}), U),
        ("not Opted_Out", json!({"Opted_Out": false}), T),
        ("not Opted_Out", json!({"Opted_Out": true}), F),
        ("not Opted_Out", json!({"Opted_Out": "no"}), U),
        // The other reading, spelled out.
        ("not (Opted_Out ?? false)", json!({}), T),
        ("not (Opted_Out ?? false)", json!({"Opted_Out": null}), T),
        ("not (Opted_Out ?? false)", json!({"Opted_Out": true}), F),
        ("not (Opted_Out ?? false)", json!({"Opted_Out": false}), T),
        ("Opted_Out is null or not Opted_Out", json!({}), T),
        ("Opted_Out != true", json!({}), U),
        // Not a tautology: with null x both sides are unknown.
        ("x == 1 or x != 1", json!({"x": null}), U),
        ("x == 1 or x != 1", json!({}), U),
        ("x == 1 or x != 1", json!({"x": 5}), T),
        ("x == 1 or x != 1", json!({"x": "1"}), U),
        ("x == 1 or x != 1 or x is null", json!({}), T),
        // Nor is this a contradiction.
        ("x == 1 and x != 1", json!({}), U),
        ("not (x == 1 and x != 1)", json!({}), U),
        ("x < 5 or x >= 5", json!({}), U),
        // `null` literals compare to unknown (and `herald check` warns).
        ("x == null", json!({"x": null}), U),
        ("x != null", json!({"x": 1}), U),
        ("(x ?? 0) == 0 or x != 0", json!({}), T),
    ]);
}

// ---------------------------------------------------------------------------------------------
// With a schema: typed reading of the record
// ---------------------------------------------------------------------------------------------

fn contacts() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Schema::new(
        "Contacts",
        vec![
            f("Name", FieldType::Text),
            f("Email", FieldType::Email),
            f("Age", FieldType::Integer),
            f("Lifetime_Value", FieldType::Decimal),
            f("Birth_Date", FieldType::Date),
            f("Created_Time", FieldType::DateTime),
            f("Opted_Out", FieldType::Boolean),
            f(
                "Mailing_Country",
                FieldType::Picklist(strings(&["FR", "BE", "DE"])),
            ),
            f(
                "Tags",
                FieldType::Multiselect(strings(&["vip", "beta", "partner"])),
            ),
            f(
                "address",
                FieldType::Object(vec![f("city", FieldType::Text)]),
            ),
        ],
    )
}

fn check_schema(rows: &[(&str, Value, Truth)]) {
    check_with(Some(&contacts()), &clock(), rows);
}

#[test]
fn schema_dates_are_read_from_strings() {
    check_schema(&[
        (
            "Birth_Date == @1990-05-01",
            json!({"Birth_Date": "1990-05-01"}),
            T,
        ),
        (
            "Birth_Date == @1990-05-01",
            json!({"Birth_Date": "1990-05-02"}),
            F,
        ),
        ("Birth_Date == @1990-05-01", json!({"Birth_Date": null}), U),
        ("Birth_Date == @1990-05-01", json!({}), U),
        (
            "Birth_Date == @1990-05-01",
            json!({"Birth_Date": 19_900_501}),
            U,
        ),
        // A date field holds `YYYY-MM-DD`; anything else reads as null.
        (
            "Birth_Date == @1990-05-01",
            json!({"Birth_Date": "1990-05-01T00:00:00Z"}),
            U,
        ),
        (
            "Birth_Date == @1990-05-01",
            json!({"Birth_Date": "01/05/1990"}),
            U,
        ),
        ("Birth_Date is null", json!({"Birth_Date": "01/05/1990"}), T),
        (
            "Birth_Date < today() - 52w",
            json!({"Birth_Date": "1990-05-01"}),
            T,
        ),
        (
            "Birth_Date + 1d == @1990-05-02",
            json!({"Birth_Date": "1990-05-01"}),
            T,
        ),
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": "2026-01-15T10:00:00+01:00"}),
            T,
        ),
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": "2025-12-31T23:59:59Z"}),
            F,
        ),
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": null}),
            U,
        ),
        ("Created_Time > @2026-01-01", json!({}), U),
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": 1_767_225_600}),
            U,
        ),
        // A date-time field needs an offset.
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": "2026-01-15"}),
            U,
        ),
        (
            "Created_Time > @2026-01-01",
            json!({"Created_Time": "2026-01-15T10:00:00"}),
            U,
        ),
        (
            "Created_Time > now() - 30d",
            json!({"Created_Time": "2026-01-30T00:00:00Z"}),
            T,
        ),
    ]);
}

#[test]
fn schema_mismatched_json_types_read_as_null() {
    check_schema(&[
        ("Age > 30", json!({"Age": 45}), T),
        ("Age > 30", json!({"Age": 25}), F),
        ("Age > 30", json!({"Age": null}), U),
        ("Age > 30", json!({}), U),
        ("Age > 30", json!({"Age": "45"}), U),
        ("Age is null", json!({"Age": "45"}), T),
        // Any JSON number reads into a numeric field.
        ("Age > 30", json!({"Age": 45.0}), T),
        ("Lifetime_Value >= 1000", json!({"Lifetime_Value": 1000}), T),
        (
            "Lifetime_Value >= 1000",
            json!({"Lifetime_Value": 999.99}),
            F,
        ),
        (
            "Lifetime_Value >= 1000",
            json!({"Lifetime_Value": "1000"}),
            U,
        ),
        ("Name == \"Anne\"", json!({"Name": "Anne"}), T),
        ("Name == \"Anne\"", json!({"Name": 5}), U),
        ("Name is empty", json!({"Name": 5}), T),
        ("Opted_Out", json!({"Opted_Out": true}), T),
        ("Opted_Out", json!({"Opted_Out": "true"}), U),
        ("not Opted_Out", json!({"Opted_Out": false}), T),
        ("not Opted_Out", json!({"Opted_Out": "false"}), U),
        ("not Opted_Out", json!({"Opted_Out": 0}), U),
        ("not (Opted_Out ?? false)", json!({"Opted_Out": "false"}), T),
        (
            "Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Mailing_Country": "FR"}),
            T,
        ),
        (
            "Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Mailing_Country": "DE"}),
            F,
        ),
        // A value the picklist does not declare still compares (the record is data).
        (
            "Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Mailing_Country": "US"}),
            F,
        ),
        (
            "Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Mailing_Country": ["FR"]}),
            U,
        ),
        ("Tags contains \"vip\"", json!({"Tags": ["vip", "beta"]}), T),
        ("Tags contains \"vip\"", json!({"Tags": ["beta"]}), F),
        ("Tags contains \"vip\"", json!({"Tags": "vip"}), U),
        // One element of the wrong type makes the whole multiselect null.
        ("Tags contains \"vip\"", json!({"Tags": ["vip", 1]}), U),
        (
            "Tags contains any [\"vip\", \"partner\"]",
            json!({"Tags": ["partner"]}),
            T,
        ),
        (
            "Tags contains all [\"vip\", \"partner\"]",
            json!({"Tags": ["partner"]}),
            F,
        ),
        ("Tags is empty", json!({"Tags": []}), T),
        ("len(Tags) == 2", json!({"Tags": ["vip", "beta"]}), T),
        (
            "address.city == \"Paris\"",
            json!({"address": {"city": "Paris"}}),
            T,
        ),
        (
            "address.city == \"Paris\"",
            json!({"address": {"city": 75}}),
            U,
        ),
        ("address.city == \"Paris\"", json!({"address": "Paris"}), U),
        ("address.city == \"Paris\"", json!({"address": null}), U),
        ("address is not null", json!({"address": {}}), T),
        ("address is null", json!({"address": "Paris"}), T),
    ]);
}

#[test]
fn schema_less_and_schema_agree_on_well_typed_records() {
    let rows: &[(&str, Value, Truth)] = &[
        (
            "Age >= 18 and Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Age": 30, "Mailing_Country": "BE"}),
            T,
        ),
        (
            "Age >= 18 and Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Age": 3, "Mailing_Country": "BE"}),
            F,
        ),
        (
            "Age >= 18 and Mailing_Country in [\"FR\", \"BE\"]",
            json!({"Mailing_Country": "BE"}),
            U,
        ),
        (
            "Birth_Date < @2000-01-01",
            json!({"Birth_Date": "1999-12-31"}),
            T,
        ),
        (
            "Created_Time >= @2026-01-31",
            json!({"Created_Time": "2026-01-31T00:00:00Z"}),
            T,
        ),
        (
            "lower(Email) ends with \"@example.fr\"",
            json!({"Email": "Anne@Example.FR"}),
            T,
        ),
    ];
    check(rows);
    check_schema(rows);
}
