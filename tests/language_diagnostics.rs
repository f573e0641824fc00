//! The diagnostics of the condition language: every slip from another language that the issue
//! lists, and every code a condition can produce. For each: the code, the exact underlined text
//! (the source at the primary span), the help line, and a snapshot of the message as a person
//! reads it (`CompileError::render`, no colour) under `tests/snapshots/`.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test language_diagnostics`, then
//! read every changed `.snap` file as the CRM administrator who will see it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::condition::Condition;
use herald::diagnostics::{Code, Diagnostic, Severity, render};
use herald::schema::{Field, FieldType, Schema};
use herald::span::Sources;

fn contacts() -> Schema {
    let f = |name: &str, ty: FieldType| Field {
        name: name.to_string(),
        ty,
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Schema::new(
        "Contacts",
        vec![
            f("id", FieldType::Text),
            f("Full_Name", FieldType::Text),
            f("Email", FieldType::Email),
            f("Age", FieldType::Integer),
            f("Lifetime_Value", FieldType::Decimal),
            f("Birth_Date", FieldType::Date),
            f("Created_Time", FieldType::DateTime),
            f("Opted_Out", FieldType::Boolean),
            f(
                "Mailing_Country",
                FieldType::Picklist(strings(&["FR", "BE", "CH", "DE", "AT", "US"])),
            ),
            f(
                "Subscription",
                FieldType::Picklist(strings(&["paid", "trial", "free"])),
            ),
            f(
                "Tags",
                FieldType::Multiselect(strings(&["vip", "beta", "partner"])),
            ),
            f(
                "address",
                FieldType::Object(vec![f("city", FieldType::Text), f("zip", FieldType::Text)]),
            ),
        ],
    )
}

/// Compiles `src` and returns its diagnostics (errors, or the warnings of a condition that
/// compiles) with their rendering.
fn diagnose(src: &str, schema: Option<&Schema>) -> (Vec<Diagnostic>, String) {
    match Condition::compile_with_warnings(src, schema) {
        Err(e) => (e.diagnostics.clone(), e.render()),
        Ok((_, warnings)) => {
            let mut sources = Sources::new();
            sources.add("<condition>", src);
            let rendered = render::human(&warnings, &sources, false);
            (warnings, rendered)
        }
    }
}

/// Which schema a case compiles against.
#[derive(Clone, Copy)]
enum With {
    NoSchema,
    Contacts,
}

/// Checks the first diagnostic of `src` and snapshots the rendering of all of them.
fn check(name: &str, src: &str, with: With, code: Code, underlined: &str, help: Option<&str>) {
    let schema = contacts();
    let schema = match with {
        With::NoSchema => None,
        With::Contacts => Some(&schema),
    };
    let (diags, rendered) = diagnose(src, schema);
    assert!(!diags.is_empty(), "`{src}` compiled without a diagnostic");
    let d = &diags[0];
    let listing: Vec<String> = diags.iter().map(|d| format!("{d}")).collect();
    assert_eq!(d.code, code, "`{src}`: {listing:#?}");
    let text = src
        .get(d.span.start..d.span.end)
        .unwrap_or("<not on a char boundary>");
    assert_eq!(text, underlined, "`{src}`: underlined text of {d}");
    match (help, &d.help) {
        (Some(want), Some(got)) => {
            assert!(got.contains(want), "`{src}`: help `{got}` lacks `{want}`")
        }
        (Some(want), None) => panic!("`{src}`: no help, expected one with `{want}`"),
        (None, Some(got)) => panic!("`{src}`: unexpected help `{got}`"),
        (None, None) => {}
    }
    // Style (cedar's guide, EXAMPLES.md): lowercase first word (an acronym such as `NUL` aside),
    // no final period.
    for d in &diags {
        assert!(
            !d.message.ends_with('.'),
            "message ends with a period: {}",
            d.message
        );
        let first = d.message.split(' ').next().unwrap_or("");
        assert!(
            !first.starts_with(|c: char| c.is_ascii_uppercase())
                || first.chars().all(|c| c.is_ascii_uppercase()),
            "message starts with a capital: {}",
            d.message
        );
    }
    let description = if src.len() > 200 {
        format!(
            "{}... ({} bytes)",
            &src[..src.floor_char_boundary_compat(120)],
            src.len()
        )
    } else {
        src.to_string()
    };
    insta::with_settings!({ description => description, omit_expression => true }, {
        insta::assert_snapshot!(name, rendered);
    });
}

/// `str::floor_char_boundary` is unstable; the few lines it takes.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

macro_rules! diagnostic_tests {
    ($($name:ident: $src:expr, $with:ident => $code:ident at $under:expr, help $help:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name), &$src, With::$with, Code::$code, $under, $help);
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Slips from other languages
// ---------------------------------------------------------------------------------------------

diagnostic_tests! {
    slip_and_and: "Subscription == \"paid\" && Age > 18", NoSchema
        => Syntax at "&&", help Some("write `and` instead of `&&`");
    slip_or_or: "Mailing_Country == \"FR\" || Mailing_Country == \"BE\"", NoSchema
        => Syntax at "||", help Some("write `or` instead of `||`");
    slip_bang: "!Opted_Out", NoSchema
        => Syntax at "!", help Some("write `not` instead of `!`");
    slip_bang_and_space: "Age > 18 and ! Opted_Out", NoSchema
        => Syntax at "!", help Some("write `not` instead of `!`");
    slip_single_equals: "Subscription = \"paid\"", NoSchema
        => Syntax at "=", help Some("write `==` instead of `=`");
    slip_diamond: "Subscription <> \"paid\"", NoSchema
        => Syntax at "<>", help Some("write `!=` instead of `<>`");
    slip_single_quotes: "Subscription == 'paid'", NoSchema
        => Syntax at "'paid'", help Some("write \"paid\"");
    slip_unterminated_string: "Subscription == \"paid", NoSchema
        => Syntax at "\"paid", help Some("add a closing `\"`");
    slip_unterminated_string_before_next_line: "Subscription == \"paid\n  and Age > 18", NoSchema
        => Syntax at "\"paid", help Some("add a closing `\"`");
    slip_unknown_escape: "Full_Name == \"C:\\Users\\anne\"", NoSchema
        => Syntax at "\\U", help Some("write `\\\\` for a backslash");
    slip_invalid_unicode_escape: "Full_Name == \"\\u{D800}\"", NoSchema
        => Syntax at "\\u{D800}", help Some("such as `\\u{1F600}`");
    slip_chained_comparison: "18 < Age < 65", NoSchema
        => Syntax at "< 65", help Some("`a < b and b < c`");
    slip_chained_comparison_then_more: "18 < Age < 65 # working age\n  and not Opted_Out", NoSchema
        => Syntax at "< 65", help Some("`a < b and b < c`");
    slip_missing_operand_at_the_end: "Age >", NoSchema
        => Syntax at ">", help Some("write a value or a field after `>`");
    slip_missing_operand_after_and: "Age > 18 and", NoSchema
        => Syntax at "and", help Some("after `and`");
    slip_missing_operand_before_a_parenthesis: "(Age > ) and Opted_Out", NoSchema
        => Syntax at ")", help Some("after `>`");
    slip_missing_operand_first: "== 18", NoSchema
        => Syntax at "==", help Some("before `==`");
    slip_missing_operand_after_comment: "Tags contains # the tag\n", NoSchema
        => Syntax at "contains", help Some("after `contains`");
    slip_unclosed_parenthesis: "(Age > 18 and Opted_Out", NoSchema
        => Syntax at "(", help Some("add `)`");
    slip_unopened_parenthesis: "Age > 18) and Opted_Out", NoSchema
        => Syntax at ")", help Some("remove this `)`");
    slip_mismatched_brackets: "Mailing_Country in [\"FR\", \"BE\")", NoSchema
        => Syntax at ")", help Some("close `[` with `]` first");
    slip_mismatched_brackets_other_way: "(Mailing_Country in [\"FR\", \"BE\"]]", NoSchema
        => Syntax at "]", help Some("close `(` with `)` first");
    slip_missing_and: "Age > 18 Opted_Out", NoSchema
        => Syntax at "Opted_Out", help Some("joined with `and` or `or`");
    slip_missing_comparison_operator: "Age 18", NoSchema
        => Syntax at "18", help Some("a comparison operator is missing");
    slip_missing_comparison_operator_before_string: "Subscription \"paid\"", NoSchema
        => Syntax at "\"paid\"", help Some("a comparison operator is missing");
    slip_is_typo: "Email is nul", NoSchema
        => Syntax at "nul", help Some("`is null`, `is not null`, `is empty` or `is not empty`");
    slip_is_not_typo: "Email is not emtpy", NoSchema
        => Syntax at "emtpy", help Some("`is not empty`");
    slip_reserved_word_as_field: "in == \"x\"", NoSchema
        => Syntax at "in", help Some("a field named `in` must be back-quoted");
    slip_empty_condition: "  # nothing yet\n", NoSchema
        => Syntax at "", help Some("write a condition");
    slip_empty_label: "`` == 1", NoSchema
        => Syntax at "``", help Some("between the back quotes");
    slip_exponent: "Lifetime_Value > 1e5", NoSchema
        => Syntax at "1e5", help Some("Herald has no exponents");
    slip_leading_point: "Lifetime_Value > .5", NoSchema
        => Syntax at ".", help Some("write `0.5`");
    slip_months: "Birth_Date > today() - 6mo", NoSchema
        => Syntax at "6mo", help Some("count days or weeks");
    slip_duration_after_a_value: "Birth_Date > today() 30d", NoSchema
        => Syntax at "30d", help Some("`today() - 30d`");
    slip_at_today: "Birth_Date < @today", NoSchema
        => InvalidLiteral at "@today", help Some("write `today()`");
    slip_nul_byte: "Age\u{0} > 18", NoSchema
        => Syntax at "\u{0}", help Some("remove the NUL byte");
}

// ---------------------------------------------------------------------------------------------
// Every code a condition can produce
// ---------------------------------------------------------------------------------------------

diagnostic_tests! {
    nesting_too_deep: format!("{}Age > 18{}", "(".repeat(257), ")".repeat(257)), NoSchema
        => NestingTooDeep at "(", help Some("remove redundant parentheses");
    nesting_too_deep_with_nots: format!("{}Opted_Out", "not ".repeat(300)), NoSchema
        => NestingTooDeep at "not", help Some("remove redundant parentheses or `not`s");
    invalid_literal_integer: "Age > 99999999999999999999", NoSchema
        => InvalidLiteral at "99999999999999999999", help Some("as a decimal");
    invalid_literal_date: "Birth_Date > @2026-02-30", NoSchema
        => InvalidLiteral at "@2026-02-30", help Some("`@YYYY-MM-DD`");
    invalid_literal_date_shape: "Birth_Date > @2026-2-3", NoSchema
        => InvalidLiteral at "@2026-2-3", help Some("`@YYYY-MM-DD`");
    invalid_literal_date_time_without_offset: "Created_Time > @2026-01-31T09:30:00", NoSchema
        => InvalidLiteral at "@2026-01-31T09:30:00", help Some("write `@2026-01-31T09:30:00Z` for UTC");
    invalid_literal_duration: "Birth_Date < today() - 99999999999999999w", NoSchema
        => InvalidLiteral at "99999999999999999w", help Some("64-bit seconds");
    unknown_function: "lowercase(Email) == \"anne@example.fr\"", NoSchema
        => UnknownFunction at "lowercase", help Some("did you mean `lower`?");
    unknown_function_typo: "lwer(Email) == \"anne@example.fr\"", NoSchema
        => UnknownFunction at "lwer", help Some("did you mean `lower`?");
    unknown_function_elsewhere: "frobnicate(Email)", NoSchema
        => UnknownFunction at "frobnicate", help Some("the functions are lower, upper, trim, len, today, now");
    wrong_argument_count: "lower(Email, \"x\") == \"a\"", NoSchema
        => WrongArgumentCount at "lower(Email, \"x\")", help Some("write `lower(Field)`");
    wrong_argument_count_today: "Birth_Date < today(1)", NoSchema
        => WrongArgumentCount at "today(1)", help Some("write `today()`");
    unknown_field: "Mailing_Contry == \"FR\"", Contacts
        => UnknownField at "Mailing_Contry", help Some("did you mean `Mailing_Country`?");
    unknown_field_case: "mailing_country == \"FR\"", Contacts
        => UnknownField at "mailing_country", help Some("did you mean `Mailing_Country`?");
    unknown_field_nested: "address.cty == \"Paris\"", Contacts
        => UnknownField at "cty", help Some("did you mean `city`?");
    unknown_field_under_a_non_object: "Email.domain == \"example.fr\"", Contacts
        => UnknownField at "domain", help Some("only object fields have sub-fields");
    unknown_field_no_suggestion: "Zodiac_Sign == \"Leo\"", Contacts
        => UnknownField at "Zodiac_Sign", help Some("the fields are: id, Full_Name, Email");
    type_mismatch_quoted_number: "Age > \"18\"", Contacts
        => TypeMismatch at "Age > \"18\"", help Some("remove the quotes: `18`");
    type_mismatch_quoted_boolean: "Opted_Out == \"true\"", Contacts
        => TypeMismatch at "Opted_Out == \"true\"", help Some("remove the quotes: `true`");
    type_mismatch_date_as_string: "Birth_Date > \"2020-01-01\"", Contacts
        => TypeMismatch at "Birth_Date > \"2020-01-01\"", help Some("write a date literal: `@2020-01-01`");
    type_mismatch_list_equality: "Tags == [\"vip\"]", Contacts
        => TypeMismatch at "Tags == [\"vip\"]", help Some("`contains any [...]`");
    type_mismatch_list_equality_without_schema: "Tags == [\"vip\", \"beta\"]", NoSchema
        => TypeMismatch at "Tags == [\"vip\", \"beta\"]", help Some("`in [...]`");
    type_mismatch_contains_on_a_number: "Age contains 1", Contacts
        => TypeMismatch at "Age", help Some("compare numbers with `==`");
    type_mismatch_text_is_not_a_condition: "Email and not Opted_Out", Contacts
        => TypeMismatch at "Email", help Some("`Email is not empty`");
    type_mismatch_coalesce_default: "Opted_Out ?? \"no\"", Contacts
        => TypeMismatch at "\"no\"", help Some("same type");
    type_mismatch_duration_on_a_number: "Age + 1d > 3", Contacts
        => TypeMismatch at "Age", help Some("a date field");
    type_mismatch_number_added_to_a_date: "today() + 5 > Birth_Date", NoSchema
        => TypeMismatch at "5", help Some("`30d`");
    type_mismatch_lone_duration: "30d > Birth_Date", NoSchema
        => TypeMismatch at "30d", help Some("today() - 30d");
    type_mismatch_in_without_a_list: "Mailing_Country in \"FR\"", Contacts
        => TypeMismatch at "\"FR\"", help Some("[\"FR\", \"BE\"]");
    type_mismatch_ordering_booleans: "Opted_Out < true", Contacts
        => TypeMismatch at "Opted_Out < true", help Some("compare a boolean with `==` or `!=`");
    unknown_picklist_value_case: "Mailing_Country == \"fr\"", Contacts
        => UnknownPicklistValue at "\"fr\"", help Some("values are case-sensitive: write \"FR\"");
    unknown_picklist_value_typo: "Subscription == \"trail\"", Contacts
        => UnknownPicklistValue at "\"trail\"", help Some("did you mean \"trial\"?");
    unknown_picklist_value_far_off: "Subscription == \"payed\"", Contacts
        => UnknownPicklistValue at "\"payed\"", help Some("the values of `Subscription` are \"paid\", \"trial\", \"free\"");
    unknown_picklist_value_in_a_list: "Mailing_Country in [\"FR\", \"Belgium\"]", Contacts
        => UnknownPicklistValue at "\"Belgium\"", help Some("the values of `Mailing_Country` are \"FR\", \"BE\"");
    unknown_picklist_value_multiselect: "Tags contains \"VIP\"", Contacts
        => UnknownPicklistValue at "\"VIP\"", help Some("write \"vip\"");
    invalid_regex: "Email matches \"[a-z\"", NoSchema
        => InvalidRegex at "\"[a-z\"", help Some("Rust `regex` crate");
    invalid_regex_not_a_literal: "Email matches Pattern", NoSchema
        => TypeMismatch at "Pattern", help Some("in double quotes");
    invalid_list_mixed_types: "Mailing_Country in [\"FR\", 1]", NoSchema
        => InvalidList at "1", help Some("the same type");
    invalid_list_null: "Mailing_Country in [\"FR\", null]", NoSchema
        => InvalidList at "null", help Some("`x is null or x in [...]`");
    invalid_list_field: "Mailing_Country in [\"FR\", Billing_Country]", NoSchema
        => InvalidList at "Billing_Country", help Some("to compare with a field use `or`");
    null_comparison: "Email == null", NoSchema
        => NullComparison at "null", help Some("write `Email is null`");
    null_comparison_not_equal: "null != Email", NoSchema
        => NullComparison at "null", help Some("write `Email is not null`");
}

#[test]
fn source_too_large() {
    // Lines of comments up to the limit, then a condition that crosses it: the report shows the
    // line where the limit falls, not the megabyte before it.
    let line = "# padding to make the rule file large\n";
    let mut src = line.repeat((1 << 20) / line.len());
    src.push_str("Subscription == \"paid\" and Mailing_Country in [\"FR\", \"BE\"]\n");
    assert!(src.len() > 1 << 20);
    let (diags, rendered) = diagnose(&src, None);
    assert_eq!(diags[0].code, Code::SourceTooLarge);
    assert_eq!(diags[0].span.start, 1 << 20);
    assert_eq!(diags[0].span.len(), 1);
    assert!(
        diags[0]
            .help
            .as_deref()
            .unwrap()
            .contains("split the rules")
    );
    insta::assert_snapshot!("source_too_large", rendered);
}

#[test]
fn source_too_large_splits_no_character() {
    // The limit falls inside a two-byte character: the span starts on its first byte.
    let mut src = "x == \"".to_string();
    src.push_str(&"a".repeat((1 << 20) - src.len() - 1));
    src.push_str("éé\"");
    let (diags, _) = diagnose(&src, None);
    assert_eq!(diags[0].code, Code::SourceTooLarge);
    assert_eq!(&src[diags[0].span.start..diags[0].span.end], "é");
}

#[test]
fn list_too_large() {
    // One element per line: the report shows the first element over the limit and the line
    // that opens the list.
    let mut src = String::from("Postal_Code in [\n");
    for i in 0..100_001 {
        src.push_str(&format!("{i},\n"));
    }
    src.push_str("]\n");
    let (diags, rendered) = diagnose(&src, None);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, Code::ListTooLarge);
    assert_eq!(&src[diags[0].span.start..diags[0].span.end], "100000");
    assert!(diags[0].help.as_deref().unwrap().contains("split the list"));
    insta::assert_snapshot!("list_too_large", rendered);
}

/// One run reports every slip, not just the first.
#[test]
fn several_slips_at_once() {
    let src = "Subscription = 'paid' && (Mailing_Country == \"FR\" || !Opted_Out)";
    let (diags, rendered) = diagnose(src, None);
    let found: Vec<(Code, &str)> = diags
        .iter()
        .map(|d| (d.code, &src[d.span.start..d.span.end]))
        .collect();
    assert_eq!(
        found,
        vec![
            (Code::Syntax, "="),
            (Code::Syntax, "'paid'"),
            (Code::Syntax, "&&"),
            (Code::Syntax, "||"),
            (Code::Syntax, "!"),
        ]
    );
    insta::assert_snapshot!("several_slips_at_once", rendered);
}

/// Several type errors in one condition are all reported.
#[test]
fn several_type_errors_at_once() {
    let schema = contacts();
    let src = "Age > \"18\" and Mailing_Country == \"France\" and Zodiac == \"Leo\"";
    let (diags, rendered) = diagnose(src, Some(&schema));
    let codes: Vec<Code> = diags.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        vec![
            Code::TypeMismatch,
            Code::UnknownPicklistValue,
            Code::UnknownField
        ]
    );
    insta::assert_snapshot!("several_type_errors_at_once", rendered);
}

/// Warnings do not stop compilation; errors do.
#[test]
fn severities() {
    let (diags, _) = diagnose("Email == null", None);
    assert_eq!(diags[0].severity, Severity::Warning);
    assert!(Condition::compile("Email == null", None).is_ok());
    let (diags, _) = diagnose("Email = null", None);
    assert!(diags.iter().any(|d| d.severity == Severity::Error));
}

/// Every code the condition language can emit has a snapshot that shows it.
#[test]
fn every_condition_code_has_a_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut snapshots = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("language_diagnostics__") && name.ends_with(".snap") {
            snapshots.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    for code in [
        Code::Syntax,
        Code::NestingTooDeep,
        Code::SourceTooLarge,
        Code::ListTooLarge,
        Code::InvalidLiteral,
        Code::UnknownFunction,
        Code::WrongArgumentCount,
        Code::UnknownField,
        Code::TypeMismatch,
        Code::UnknownPicklistValue,
        Code::InvalidRegex,
        Code::InvalidList,
        Code::NullComparison,
    ] {
        assert!(
            snapshots.contains(&format!("[{code}]")),
            "no snapshot shows `{code}`"
        );
    }
}
