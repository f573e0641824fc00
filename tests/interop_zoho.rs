//! Zoho CRM search-criteria import: the syntax (groups, `and`/`or`, escaping of `(`, `)`, `,`),
//! every comparator, typed values with a schema, and errors that point at the criterion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::condition::Condition;
use herald::interop::zoho;
use herald::schema::{Field, FieldType, Schema};
use herald::value::{FixedClock, Truth};
use serde_json::json;

fn schema() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    Schema::new(
        "Contacts",
        vec![
            f("Last_Name", FieldType::Text),
            f("Email", FieldType::Email),
            f(
                "Mailing_Country",
                FieldType::Picklist(vec!["France".into(), "Belgium".into(), "Germany".into()]),
            ),
            f(
                "Subscription",
                FieldType::Picklist(vec!["paid".into(), "trial".into()]),
            ),
            f("Age", FieldType::Integer),
            f("Amount", FieldType::Currency),
            f("Opted_Out", FieldType::Boolean),
            f("Signup_Date", FieldType::Date),
            f("Modified_Time", FieldType::DateTime),
            f("Tags", FieldType::Multiselect(vec!["vip".into()])),
        ],
    )
}

fn ok(criteria: &str) -> String {
    zoho::import(criteria, None).unwrap_or_else(|e| panic!("{criteria}: {e}"))
}

fn typed(criteria: &str) -> String {
    zoho::import(criteria, Some(&schema())).unwrap_or_else(|e| panic!("{criteria}: {e}"))
}

#[test]
fn syntax_and_comparators() {
    assert_eq!(
        ok("((Mailing_Country:equals:France)and(Subscription:equals:paid))"),
        "Mailing_Country == \"France\" and Subscription == \"paid\""
    );
    assert_eq!(ok("(Email:equals:a@b.fr)"), "Email == \"a@b.fr\"");
    // Spaces around the operators, case-insensitive operators, nesting.
    assert_eq!(
        ok(
            "((Last_Name:starts_with:G) AND (Email:ends_with:@example.com)) or (Last_Name:contains:son)"
        ),
        "(Last_Name starts with \"G\" and Email ends with \"@example.com\") or Last_Name contains \"son\""
    );
    assert_eq!(
        ok("((Last_Name:not_equal:X)and((Email:contains:a)or(Email:not_contains:b)))"),
        "Last_Name != \"X\" and (Email contains \"a\" or not (Email contains \"b\"))"
    );
    assert_eq!(
        ok("(Mailing_Country:in:France,Belgium)"),
        "Mailing_Country in [\"France\", \"Belgium\"]"
    );
    // A field name that is a Herald keyword, and a nested path.
    assert_eq!(ok("(in:equals:x)"), "`in` == \"x\"");
    assert_eq!(
        ok("(Account.Name:equals:Zylker)"),
        "Account.Name == \"Zylker\""
    );
}

#[test]
fn escaping_of_parentheses_commas_and_backslashes() {
    assert_eq!(
        ok(r"(Last_Name:equals:Patricia\(Boyle\))"),
        "Last_Name == \"Patricia(Boyle)\""
    );
    assert_eq!(
        ok(r"(Last_Name:equals:Burns\,B)"),
        "Last_Name == \"Burns,B\""
    );
    assert_eq!(
        ok(r"(Last_Name:in:Burns\,B,Smith\)\(,a\\b)"),
        "Last_Name in [\"Burns,B\", \"Smith)(\", \"a\\\\b\"]"
    );
    // A backslash before another character is kept.
    assert_eq!(
        ok(r"(Last_Name:equals:C:\temp)"),
        "Last_Name == \"C:\\\\temp\""
    );
    // Colons after the comparator belong to the value (date-times).
    assert_eq!(ok("(Note:equals:a:b:c)"), "Note == \"a:b:c\"");
    // Values are exact: spaces and the empty value are kept.
    assert_eq!(ok("(Last_Name:equals: x )"), "Last_Name == \" x \"");
    assert_eq!(ok("(Last_Name:equals:)"), "Last_Name == \"\"");
    // Unescaped commas and parentheses are errors that say how to escape them.
    let e = zoho::import("(Last_Name:equals:Burns,B)", None).unwrap_err();
    assert!(e.help.as_deref().unwrap_or("").contains(r"\,"), "{e}");
    let e = zoho::import("(Last_Name:equals:Patricia(Boyle))", None).unwrap_err();
    assert!(e.help.as_deref().unwrap_or("").contains(r"\("), "{e}");
}

#[test]
fn typed_values_with_a_schema() {
    assert_eq!(typed("(Age:greater_than:17)"), "Age > 17");
    assert_eq!(
        typed("(Amount:between:100,500.50)"),
        "Amount >= 100 and Amount <= 500.5"
    );
    assert_eq!(typed("(Opted_Out:equals:false)"), "Opted_Out == false");
    assert_eq!(
        typed("(Signup_Date:less_equal:2026-01-31)"),
        "Signup_Date <= @2026-01-31"
    );
    assert_eq!(
        typed("(Modified_Time:greater_equal:2023-04-19T05:58:06+05:30)"),
        "Modified_Time >= @2023-04-19T05:58:06+05:30"
    );
    assert_eq!(typed("(Age:in:18,21)"), "Age in [18, 21]");
    assert_eq!(typed("(Age:not_equal:3)"), "Age != 3");
    assert_eq!(typed("(Last_Name:equals:100)"), "Last_Name == \"100\"");
}

#[test]
fn refusals_name_the_problem() {
    let s = schema();
    let cases: Vec<(&str, Option<&Schema>, &str)> = vec![
        ("(Age:greater_than:17)", None, "no schema"),
        ("(Age:greater_than:seventeen)", Some(&s), "not an integer"),
        ("(Age:starts_with:1)", Some(&s), "works on text"),
        ("(Last_Name:greater_than:B)", Some(&s), "is text"),
        ("(Opted_Out:in:true)", Some(&s), "boolean"),
        ("(Signup_Date:equals:31/01/2026)", Some(&s), "not a date"),
        ("(Modified_Time:equals:2026-01-31)", Some(&s), "RFC 3339"),
        ("(Tags:equals:vip)", Some(&s), "multiselect"),
        ("(Lats_Name:equals:x)", Some(&s), "not a field"),
        ("(Mailing_Country:equals:Spain)", Some(&s), "does not check"),
        ("(Age:between:1)", Some(&s), "two values"),
        ("(Last_Name:like:x)", None, "unknown comparator"),
        ("((A:equals:1)and(B:equals:2)or(C:equals:3))", None, "mixes"),
        ("(A:equals:1", None, "not closed"),
        ("A:equals:1", None, "expected `(`"),
        ("(A:equals:1))", None, "unexpected text"),
        ("(:equals:1)", None, "field name"),
    ];
    for (criteria, schema, needle) in cases {
        let e = zoho::import(criteria, schema).unwrap_err();
        assert!(e.message.contains(needle), "{criteria}: {e}");
    }
    let e = zoho::import("(Last_Name:equal:x)", None).unwrap_err();
    assert_eq!(e.construct, "`equal`");
    assert!(e.help.unwrap().contains("did you mean `equals`?"));
    let e = zoho::import("(Lats_Name:equals:x)", Some(&s)).unwrap_err();
    assert!(e.help.unwrap().contains("`Last_Name`"));
    assert!(e.span.is_some());
}

#[test]
fn imported_criteria_mean_what_zoho_means() {
    let s = schema();
    let clock = FixedClock(chrono::DateTime::UNIX_EPOCH);
    let check = |criteria: &str, record: serde_json::Value, want: Truth| {
        let src = zoho::import(criteria, Some(&s)).unwrap();
        let cond = Condition::compile(&src, Some(&s)).unwrap();
        assert_eq!(
            cond.eval(&record, &clock),
            want,
            "{criteria} -> {src} on {record}"
        );
    };
    // `between` is inclusive at both ends.
    check(
        "(Amount:between:100,500.50)",
        json!({"Amount": 100}),
        Truth::True,
    );
    check(
        "(Amount:between:100,500.50)",
        json!({"Amount": 500.5}),
        Truth::True,
    );
    check(
        "(Amount:between:100,500.50)",
        json!({"Amount": 500.51}),
        Truth::False,
    );
    // Date-times compare as instants, whatever their offsets.
    check(
        "(Modified_Time:greater_equal:2023-04-19T05:58:06+05:30)",
        json!({"Modified_Time": "2023-04-19T00:28:06Z"}),
        Truth::True,
    );
    // An empty field matches neither `equals` nor `not_equal`, nor `not_contains`.
    for c in [
        "(Last_Name:equals:x)",
        "(Last_Name:not_equal:x)",
        "(Last_Name:not_contains:x)",
    ] {
        check(c, json!({}), Truth::Unknown);
    }
    check(
        r"(Last_Name:equals:Patricia\(Boyle\))",
        json!({"Last_Name": "Patricia(Boyle)"}),
        Truth::True,
    );
}
