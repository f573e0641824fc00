//! Email validation: table-driven accepted and rejected addresses, plus property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use herald::email::{EmailError, Part, check, normalize, validate};
use proptest::prelude::*;

/// Addresses real CRMs hold that must be accepted.
const ACCEPTED: &[&str] = &[
    "anne@example.fr",
    "anne+portal@example.fr",
    "first.last@example.com",
    "first.middle.last@sub.domain.example.co.uk",
    "user-name@my-domain.com",
    "user_name@example.com",
    "1234567890@example.com",
    "a@b.co",
    "UPPER.Case@Example.COM",
    "o'brien@example.ie",
    "!#$%&'*+-/=?^_`{|}~@example.org",
    "x@123.example.com",
    "hi@1example.com",
    "a@a-b.c-d.ef",
    "a@a--b.example",
    "user@example.com.au",
    "info@sub-domain.example.museum",
    "jose@exämple.de",
    "user@例え.jp",
    "user@xn--r8jz45g.jp",
    "user@example.xn--p1ai",
    "josé.garcía@example.es",
    "用户@例子.广告",
    "пользователь@пример.рф",
    "δοκιμή@παράδειγμα.δοκιμή",
    "Dörte.Müller@Bücher.DE",
    "user@münchen.de",
];

/// Addresses that must be refused, each with the exact reason.
fn rejected() -> Vec<(String, EmailError)> {
    let local = |ch| EmailError::ForbiddenCharacter {
        ch,
        part: Part::Local,
    };
    let domain = |ch| EmailError::ForbiddenCharacter {
        ch,
        part: Part::Domain,
    };
    let mut cases: Vec<(String, EmailError)> = vec![
        ("".into(), EmailError::Empty),
        ("anne.example.fr".into(), EmailError::NoAt),
        ("anne＠example.fr".into(), EmailError::FullWidthAt),
        ("a@b@example.com".into(), EmailError::SeveralAt { count: 2 }),
        (
            "anne@example.fr,bob@example.fr".into(),
            EmailError::SeveralAt { count: 2 },
        ),
        ("@example.com".into(), EmailError::EmptyLocalPart),
        ("anne@".into(), EmailError::MissingDomain),
        (
            "a@localhost".into(),
            EmailError::DomainWithoutDot {
                domain: "localhost".into(),
            },
        ),
        (
            " anne@example.fr".into(),
            EmailError::Whitespace { ch: ' ' },
        ),
        (
            "anne@example.fr\n".into(),
            EmailError::Whitespace { ch: '\n' },
        ),
        (
            "anne @example.fr".into(),
            EmailError::Whitespace { ch: ' ' },
        ),
        (
            "anne@exam ple.com".into(),
            EmailError::Whitespace { ch: ' ' },
        ),
        (
            "anne\u{A0}@example.fr".into(),
            EmailError::Whitespace { ch: '\u{A0}' },
        ),
        (
            "Anne Martin <anne@example.fr>".into(),
            EmailError::Whitespace { ch: ' ' },
        ),
        (
            "anne\u{200B}@example.fr".into(),
            EmailError::ControlCharacter { ch: '\u{200B}' },
        ),
        (
            "\u{FEFF}anne@example.fr".into(),
            EmailError::ControlCharacter { ch: '\u{FEFF}' },
        ),
        (
            "anne\u{7}@example.fr".into(),
            EmailError::ControlCharacter { ch: '\u{7}' },
        ),
        (
            "anne@exam\u{AD}ple.fr".into(),
            EmailError::ControlCharacter { ch: '\u{AD}' },
        ),
        (
            ".anne@example.fr".into(),
            EmailError::LocalPartStartsWithDot,
        ),
        ("anne.@example.fr".into(), EmailError::LocalPartEndsWithDot),
        (
            "an..ne@example.fr".into(),
            EmailError::ConsecutiveDots { part: Part::Local },
        ),
        (
            "anne@example..fr".into(),
            EmailError::ConsecutiveDots { part: Part::Domain },
        ),
        (
            "anne@.example.fr".into(),
            EmailError::EmptyLabel {
                domain: ".example.fr".into(),
            },
        ),
        (
            "anne@example.fr.".into(),
            EmailError::EmptyLabel {
                domain: "example.fr.".into(),
            },
        ),
        (
            "\"john doe\"@example.com".into(),
            EmailError::QuotedLocalPart,
        ),
        ("\"a@b\"@example.com".into(), EmailError::QuotedLocalPart),
        ("a\"b@example.com".into(), local('"')),
        ("user@[192.0.2.1]".into(), EmailError::IpLiteral),
        ("user@[IPv6:2001:db8::1]".into(), EmailError::IpLiteral),
        (
            "user@192.0.2.1".into(),
            EmailError::NumericTopLevelDomain { tld: "1".into() },
        ),
        (
            "user@example.123".into(),
            EmailError::NumericTopLevelDomain { tld: "123".into() },
        ),
        (
            "user@-example.com".into(),
            EmailError::LabelHyphen {
                label: "-example".into(),
            },
        ),
        (
            "user@example-.com".into(),
            EmailError::LabelHyphen {
                label: "example-".into(),
            },
        ),
        (
            "user@example.com-".into(),
            EmailError::LabelHyphen {
                label: "com-".into(),
            },
        ),
        ("user@exa_mple.com".into(), domain('_')),
        ("user@exa!mple.com".into(), domain('!')),
        ("user@例え。jp".into(), domain('\u{3002}')),
        ("us,er@example.com".into(), local(',')),
        ("user(comment)@example.com".into(), local('(')),
        ("<anne@example.fr>".into(), local('<')),
        ("a\\b@example.com".into(), local('\\')),
        ("a;b@example.com".into(), local(';')),
        ("mailto:anne@example.fr".into(), local(':')),
        ("a[b]@example.com".into(), local('[')),
    ];
    // Length limits, just past each one.
    cases.push((
        format!("{}@example.com", "a".repeat(65)),
        EmailError::LocalPartTooLong { len: 65 },
    ));
    cases.push((
        format!("{}@example.com", "é".repeat(33)),
        EmailError::LocalPartTooLong { len: 66 },
    ));
    cases.push((
        format!("user@{}.com", "a".repeat(64)),
        EmailError::LabelTooLong {
            label: "a".repeat(64),
            len: 64,
        },
    ));
    // 59 bytes of UTF-8, but 64 in its ASCII (xn--) form: the DNS limit is on the latter.
    let idn_label = "\u{905}\u{E9}\u{FC}\u{5D0}\u{416}\u{E01}\u{3042}\u{FC}\u{E9}\u{AC00}\u{416}\
                     \u{3042}\u{107}\u{FC}\u{5D0}\u{4E00}\u{E01}\u{E9}\u{905}\u{416}\u{4E00}\
                     \u{FC}\u{E01}\u{AC00}";
    assert_eq!(idn_label.len(), 59);
    cases.push((
        format!("user@{idn_label}.com"),
        EmailError::LabelTooLong {
            label: idn_label.to_string(),
            len: 64,
        },
    ));
    cases.push((address_of_len(255), EmailError::TooLong { len: 255 }));
    // Five labels of 46 UTF-8 bytes (58 in ASCII form): 236 bytes in all, but the domain
    // is 294 bytes in ASCII form.
    let wide = "\u{AC00}\u{905}\u{3042}\u{E01}\u{E9}\u{4E00}\u{5D0}\u{10400}\u{1100}\u{905}\
                \u{3042}\u{E9}\u{1100}\u{5D0}\u{4E00}\u{1F600}";
    assert_eq!(wide.len(), 46);
    cases.push((
        format!("a@{}", [wide; 5].join(".")),
        EmailError::DomainTooLong { len: 294 },
    ));
    cases
}

/// A valid-looking ASCII address of exactly `len` bytes (198 to 260): a 64-byte local part
/// and a domain of three labels plus `.com`.
fn address_of_len(len: usize) -> String {
    let last = len - 197;
    let s = format!(
        "{}@{}.{}.{}.com",
        "l".repeat(64),
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(last)
    );
    assert_eq!(s.len(), len, "{s}");
    s
}

#[test]
fn accepted_addresses() {
    for email in ACCEPTED {
        assert_eq!(validate(email), Ok(()), "{email}");
    }
}

#[test]
fn rejected_addresses_with_their_reason() {
    for (email, expected) in rejected() {
        assert_eq!(validate(&email), Err(expected), "{email:?}");
    }
}

#[test]
fn the_table_is_big_enough() {
    assert!(ACCEPTED.len() + rejected().len() >= 40);
}

#[test]
fn exact_limits_are_accepted() {
    let at_limits = [
        format!("{}@example.com", "a".repeat(64)),
        format!("{}@example.com", "é".repeat(32)),
        format!("user@{}.com", "a".repeat(63)),
        address_of_len(254),
        // 68 bytes of UTF-8 but exactly 63 in ASCII (xn--) form, which is what DNS limits.
        format!(
            "user@{}.de",
            "\u{416}\u{5D0}\u{3042}\u{E01}\u{107}\u{107}\u{5D0}\u{416}\u{5D0}\u{E01}\u{AC00}\
             \u{905}\u{AC00}\u{E9}\u{FC}\u{3042}\u{3042}\u{905}\u{107}\u{416}\u{AC00}\u{FC}\
             \u{107}\u{AC00}\u{FC}\u{E9}\u{416}\u{E01}"
        ),
    ];
    for email in &at_limits {
        assert_eq!(validate(email), Ok(()), "{email}");
    }
}

#[test]
fn normalize_trims_what_a_crm_admin_does_not_see() {
    assert_eq!(normalize("  anne@example.fr \t\r\n"), "anne@example.fr");
    assert_eq!(normalize("\u{A0}anne@example.fr\u{A0}"), "anne@example.fr");
    assert_eq!(
        normalize("\u{FEFF}anne@example.fr\u{200B}"),
        "anne@example.fr"
    );
    assert_eq!(normalize("Anne@Example.FR"), "Anne@Example.FR");
    assert_eq!(normalize("   "), "");
    assert_eq!(normalize("an ne@example.fr"), "an ne@example.fr");
}

#[test]
fn check_normalizes_then_validates() {
    assert_eq!(check("  anne@example.fr "), Ok("anne@example.fr"));
    assert_eq!(check("   "), Err(EmailError::Empty));
    assert_eq!(
        check(" an ne@example.fr "),
        Err(EmailError::Whitespace { ch: ' ' })
    );
}

#[test]
fn reason_codes_for_routing() {
    assert_eq!(EmailError::Empty.reason(), "missing-email");
    assert_eq!(EmailError::NoAt.reason(), "invalid-email");
    assert_eq!(EmailError::TooLong { len: 300 }.reason(), "invalid-email");
}

#[test]
fn messages_are_clear() {
    let msg = |s: &str| validate(s).unwrap_err().to_string();
    assert_eq!(msg("anne.example.fr"), "the email address has no `@`");
    assert_eq!(
        msg("a@localhost"),
        "the domain `localhost` has no dot; use a full domain such as `example.com`"
    );
    assert_eq!(
        msg("us,er@example.com"),
        "the part before the `@` contains `,`, which is not allowed there"
    );
    assert_eq!(
        msg("user@exa_mple.com"),
        "the domain contains `_`, which is not allowed there"
    );
    assert_eq!(
        msg("anne @example.fr"),
        "the email address contains a space"
    );
    assert_eq!(
        msg("anne\u{A0}@example.fr"),
        "the email address contains a non-breaking space"
    );
    assert_eq!(
        msg("anne\u{200B}@example.fr"),
        "the email address contains the invisible or control character U+200B; retype the address"
    );
    assert_eq!(
        msg(&format!("{}@example.com", "a".repeat(65))),
        "the part before the `@` is 65 bytes long; at most 64 are allowed"
    );
    assert_eq!(
        msg("an..ne@example.fr"),
        "the part before the `@` has two dots in a row"
    );
    assert_eq!(
        msg("user@192.0.2.1"),
        "the top-level domain `1` is all digits; an address needs a domain name"
    );
    assert!(msg("user@[192.0.2.1]").contains("not supported"));
    assert!(msg("\"john doe\"@example.com").contains("not supported"));
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn valid_address() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[A-Za-z0-9_+-]{1,8}){0,2}",
        prop::collection::vec(label(), 1..4),
        "[a-z]{2,6}",
    )
        .prop_map(|(local, labels, tld)| format!("{local}@{}.{tld}", labels.join(".")))
}

proptest! {
    #[test]
    fn validate_never_panics(s in any::<String>()) {
        let _ = validate(&s);
        let _ = check(&s);
    }

    #[test]
    fn validate_never_panics_on_address_like_strings(
        s in "[a-zA-Z0-9.@\\[\\]\"\\- _+éü例。＠\u{200B}]{0,80}"
    ) {
        let _ = validate(&s);
    }

    #[test]
    fn accepted_addresses_respect_the_basic_shape(s in any::<String>()) {
        if validate(&s).is_ok() {
            prop_assert!(s.len() <= 254);
            prop_assert_eq!(s.matches('@').count(), 1);
            prop_assert!(!s.chars().any(char::is_whitespace));
        }
    }

    #[test]
    fn generated_valid_addresses_are_accepted(email in valid_address()) {
        prop_assert_eq!(validate(&email), Ok(()));
        let padded = format!(" \t{email}\u{A0}\n");
        prop_assert_eq!(check(&padded), Ok(email.as_str()));
    }

    #[test]
    fn normalize_is_idempotent(s in any::<String>()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(once), once);
    }
}
