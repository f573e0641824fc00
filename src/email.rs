//! Email address validation for invitations: what Herald accepts as a deliverable address.
//!
//! The rule, in short (the full table of examples is in `docs/email.md`):
//!
//! - exactly one `@`, with a non-empty local part before it and a domain after it;
//! - the local part is dot-separated words of letters, digits, the specials
//!   ``!#$%&'*+-/=?^_`{|}~`` and any non-ASCII letters (RFC 6531), at most 64 bytes (UTF-8);
//! - the domain is a host name with at least one dot: labels of letters, digits and hyphens
//!   (Unicode letters allowed: internationalised domain names), each at most 63 bytes in its
//!   ASCII (`xn--`) form, not starting or ending with `-`, and a top-level domain that is not
//!   all digits; at most 253 bytes in ASCII form;
//! - the whole address is at most 254 bytes (RFC 5321);
//! - no whitespace, control or invisible characters anywhere.
//!
//! Deliberately refused although RFC 5321 allows them: quoted local parts (`"john doe"@x.com`)
//! and IP-address domains (`user@[192.0.2.1]`). CRMs and portal mailers do not deliver to
//! them, and in CRM data they are almost always typing mistakes.
//!
//! [`validate`] checks the exact string it is given. Values coming from a CRM field should go
//! through [`normalize`] first (it trims surrounding whitespace, as a CRM administrator
//! expects), or through [`check`], which does both and returns the address to use.

/// Which part of the address a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Before the `@`.
    Local,
    /// After the `@`.
    Domain,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Local => "part before the `@`",
            Part::Domain => "domain",
        })
    }
}

/// Why an address is not accepted. Each message says what is wrong in words a CRM
/// administrator understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing at all (after trimming, for [`check`]). Routed as `missing-email`.
    #[error("the email address is empty")]
    Empty,
    /// A space, tab, line break or other whitespace character, anywhere.
    #[error("the email address contains {}", describe_whitespace(*ch))]
    Whitespace {
        /// The whitespace character found.
        ch: char,
    },
    /// A control character or an invisible formatting character (zero-width space,
    /// byte-order mark, soft hyphen, direction marks, ...).
    #[error(
        "the email address contains the invisible or control character U+{:04X}; retype the address",
        u32::from(*ch)
    )]
    ControlCharacter {
        /// The character found.
        ch: char,
    },
    /// More than 254 bytes in all.
    #[error("the email address is {len} bytes long; at most {MAX_ADDRESS} are allowed")]
    TooLong {
        /// The length in bytes (UTF-8).
        len: usize,
    },
    /// No `@` at all.
    #[error("the email address has no `@`")]
    NoAt,
    /// A full-width `＠` (as typed with some input methods) instead of `@`.
    #[error("the email address uses a full-width `＠`; type the ordinary `@` instead")]
    FullWidthAt,
    /// More than one `@` (quoted local parts are not supported, so every `@` counts).
    #[error("the email address has {count} `@` signs; it must have exactly one")]
    SeveralAt {
        /// How many `@` were found.
        count: usize,
    },
    /// A quoted local part such as `"john doe"@example.com`.
    #[error(
        "quoted local parts such as `\"john doe\"@example.com` are not supported; \
         use an address without quotes"
    )]
    QuotedLocalPart,
    /// Nothing before the `@`.
    #[error("the email address has nothing before the `@`")]
    EmptyLocalPart,
    /// More than 64 bytes before the `@`.
    #[error("the part before the `@` is {len} bytes long; at most {MAX_LOCAL} are allowed")]
    LocalPartTooLong {
        /// The length in bytes (UTF-8).
        len: usize,
    },
    /// The local part starts with `.`.
    #[error("the part before the `@` starts with a dot")]
    LocalPartStartsWithDot,
    /// The local part ends with `.`.
    #[error("the part before the `@` ends with a dot")]
    LocalPartEndsWithDot,
    /// `..` somewhere in the address.
    #[error("the {part} has two dots in a row")]
    ConsecutiveDots {
        /// Where.
        part: Part,
    },
    /// A character that may not appear there, e.g. `,` `;` `(` `<` `\` in the local part, or
    /// `_` `!` `/` in the domain.
    #[error("the {part} contains `{ch}`, which is not allowed there")]
    ForbiddenCharacter {
        /// The character found.
        ch: char,
        /// Where.
        part: Part,
    },
    /// Nothing after the `@`.
    #[error("the email address has nothing after the `@`")]
    MissingDomain,
    /// An IP-address domain such as `[192.0.2.1]`.
    #[error("IP-address domains such as `[192.0.2.1]` are not supported; use a domain name")]
    IpLiteral,
    /// A domain without any dot, such as `localhost`.
    #[error("the domain `{domain}` has no dot; use a full domain such as `example.com`")]
    DomainWithoutDot {
        /// The domain.
        domain: String,
    },
    /// The domain starts or ends with a dot (an empty label).
    #[error("the domain `{domain}` starts or ends with a dot")]
    EmptyLabel {
        /// The domain.
        domain: String,
    },
    /// A domain label longer than 63 bytes in its ASCII form.
    #[error(
        "the domain label `{label}` is {len} bytes long in its ASCII form; at most {MAX_LABEL} are allowed"
    )]
    LabelTooLong {
        /// The label as written.
        label: String,
        /// Its length in bytes, in ASCII (`xn--`) form for an internationalised label.
        len: usize,
    },
    /// A domain label starting or ending with `-`.
    #[error("the domain label `{label}` starts or ends with a hyphen")]
    LabelHyphen {
        /// The label.
        label: String,
    },
    /// The last label is all digits, as in `user@192.0.2.1`.
    #[error("the top-level domain `{tld}` is all digits; an address needs a domain name")]
    NumericTopLevelDomain {
        /// The top-level domain.
        tld: String,
    },
    /// The domain is longer than 253 bytes in its ASCII form.
    #[error("the domain is {len} bytes long in its ASCII form; at most {MAX_DOMAIN} are allowed")]
    DomainTooLong {
        /// The length in bytes, in ASCII (`xn--`) form.
        len: usize,
    },
}

impl EmailError {
    /// The routing reason code: `missing-email` for [`EmailError::Empty`], otherwise
    /// `invalid-email`.
    pub fn reason(&self) -> &'static str {
        match self {
            EmailError::Empty => "missing-email",
            _ => "invalid-email",
        }
    }
}

/// Longest address in bytes (RFC 5321 path limit of 256 minus the angle brackets).
pub const MAX_ADDRESS: usize = 254;
/// Longest local part in bytes (RFC 5321).
pub const MAX_LOCAL: usize = 64;
/// Longest domain in bytes, ASCII form (RFC 1035, textual form without the root dot).
pub const MAX_DOMAIN: usize = 253;
/// Longest domain label in bytes, ASCII form (RFC 1035).
pub const MAX_LABEL: usize = 63;

/// The ASCII specials allowed in a local part besides letters and digits (RFC 5322 `atext`).
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// Trims what a CRM administrator does not see or mean: surrounding whitespace (including
/// non-breaking spaces and line breaks) and invisible formatting characters such as a
/// byte-order mark or zero-width space at either end. Nothing inside the address changes,
/// and the case is kept.
pub fn normalize(email: &str) -> &str {
    email.trim_matches(|c: char| c.is_whitespace() || is_invisible(c))
}

/// [`normalize`]s a raw field value, then [`validate`]s it; returns the address to use.
pub fn check(raw: &str) -> Result<&str, EmailError> {
    if is_plain_valid(raw.as_bytes()) {
        // `normalize` would not change it and `validate` would accept it.
        return Ok(raw);
    }
    let email = normalize(raw);
    validate(email)?;
    Ok(email)
}

/// True for an ASCII address that [`validate`] accepts as it is, made only of letters, digits,
/// dots, `@`, hyphens and the local part's specials: the common case, checked in one pass over
/// the bytes. False says nothing: such an address goes through [`normalize`] and [`validate`],
/// which also say what is wrong.
fn is_plain_valid(email: &[u8]) -> bool {
    if email.is_empty() || email.len() > MAX_ADDRESS {
        return false;
    }
    let Some(at) = email.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = email.split_at(at);
    let domain = domain.get(1..).unwrap_or(&[]);
    // The local part: dot-separated, non-empty words of `atext`.
    if local.is_empty() || local.len() > MAX_LOCAL {
        return false;
    }
    let mut prev = b'.'; // a leading dot is refused like a doubled one
    for &b in local {
        let ok = b.is_ascii_alphanumeric()
            || (b == b'.' && prev != b'.')
            || (b != b'.' && ATEXT_SPECIALS.as_bytes().contains(&b));
        if !ok {
            return false;
        }
        prev = b;
    }
    if prev == b'.' {
        return false;
    }
    // The domain: at least two non-empty labels of letters, digits and inner hyphens, the last
    // not all digits. (In ASCII, its ASCII form is itself.)
    if domain.len() > MAX_DOMAIN {
        return false;
    }
    let mut labels = 0usize;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        let (Some(&first), Some(&end)) = (label.first(), label.last()) else {
            return false;
        };
        if label.len() > MAX_LABEL
            || first == b'-'
            || end == b'-'
            || !label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && !last.iter().all(u8::is_ascii_digit)
}

/// Checks that `email`, exactly as given, is an address Herald will invite. Never panics.
///
/// Surrounding whitespace is an error here; use [`normalize`] or [`check`] on raw field
/// values.
pub fn validate(email: &str) -> Result<(), EmailError> {
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    // First, as a quoted local part may legitimately hold spaces and `@`.
    if email.starts_with('"') {
        return Err(EmailError::QuotedLocalPart);
    }
    for ch in email.chars() {
        if ch.is_whitespace() {
            return Err(EmailError::Whitespace { ch });
        }
        if ch.is_control() || is_invisible(ch) {
            return Err(EmailError::ControlCharacter { ch });
        }
    }
    let (local, domain) = match email.matches('@').count() {
        0 if email.contains(FULL_WIDTH_ATS) => return Err(EmailError::FullWidthAt),
        0 => return Err(EmailError::NoAt),
        1 => email.split_once('@').ok_or(EmailError::NoAt)?,
        count => return Err(EmailError::SeveralAt { count }),
    };
    validate_local(local)?;
    validate_domain_syntax(domain)?;
    if email.len() > MAX_ADDRESS {
        return Err(EmailError::TooLong { len: email.len() });
    }
    validate_domain_labels(domain)
}

fn validate_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL {
        return Err(EmailError::LocalPartTooLong { len: local.len() });
    }
    for ch in local.chars() {
        let allowed = if ch.is_ascii() {
            ch.is_ascii_alphanumeric() || ch == '.' || ATEXT_SPECIALS.contains(ch)
        } else {
            !is_lookalike(ch)
        };
        if !allowed {
            return Err(EmailError::ForbiddenCharacter {
                ch,
                part: Part::Local,
            });
        }
    }
    if local.starts_with('.') {
        return Err(EmailError::LocalPartStartsWithDot);
    }
    if local.ends_with('.') {
        return Err(EmailError::LocalPartEndsWithDot);
    }
    if local.contains("..") {
        return Err(EmailError::ConsecutiveDots { part: Part::Local });
    }
    Ok(())
}

/// The checks on the domain that do not depend on its length.
fn validate_domain_syntax(domain: &str) -> Result<(), EmailError> {
    if domain.is_empty() {
        return Err(EmailError::MissingDomain);
    }
    if domain.starts_with('[') {
        return Err(EmailError::IpLiteral);
    }
    for ch in domain.chars() {
        let allowed = if ch.is_ascii() {
            ch.is_ascii_alphanumeric() || ch == '-' || ch == '.'
        } else {
            !is_lookalike(ch)
        };
        if !allowed {
            return Err(EmailError::ForbiddenCharacter {
                ch,
                part: Part::Domain,
            });
        }
    }
    if domain.contains("..") {
        return Err(EmailError::ConsecutiveDots { part: Part::Domain });
    }
    if domain.starts_with('.') || domain.ends_with('.') {
        return Err(EmailError::EmptyLabel {
            domain: domain.to_string(),
        });
    }
    if !domain.contains('.') {
        return Err(EmailError::DomainWithoutDot {
            domain: domain.to_string(),
        });
    }
    Ok(())
}

/// Label lengths, hyphens, the top-level domain and the ASCII-form length. Called once the
/// address is known to be at most 254 bytes, so Punycode encoding stays cheap.
fn validate_domain_labels(domain: &str) -> Result<(), EmailError> {
    let mut ascii_len = 0usize;
    let mut labels = 0usize;
    let mut last = "";
    for label in domain.split('.') {
        let len = ascii_label_len(label);
        if len > MAX_LABEL {
            return Err(EmailError::LabelTooLong {
                label: label.to_string(),
                len,
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(EmailError::LabelHyphen {
                label: label.to_string(),
            });
        }
        ascii_len += len;
        labels += 1;
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EmailError::NumericTopLevelDomain {
            tld: last.to_string(),
        });
    }
    let ascii_len = ascii_len + labels.saturating_sub(1);
    if ascii_len > MAX_DOMAIN {
        return Err(EmailError::DomainTooLong { len: ascii_len });
    }
    Ok(())
}

/// The length of a label in its ASCII form: itself if ASCII, else `xn--` + Punycode of its
/// lower-cased form (an approximation of IDNA mapping that is exact for ordinary labels).
fn ascii_label_len(label: &str) -> usize {
    if label.is_ascii() {
        return label.len();
    }
    let lower: Vec<char> = label.to_lowercase().chars().collect();
    match punycode_encode(&lower) {
        Some(encoded) => 4 + encoded.len(),
        None => usize::MAX,
    }
}

/// `@` look-alikes typed by some input methods.
const FULL_WIDTH_ATS: [char; 2] = ['\u{FF20}', '\u{FE6B}'];

/// Non-ASCII characters that look like `@` or `.` and are never right in an address.
fn is_lookalike(ch: char) -> bool {
    matches!(
        ch,
        '\u{FF20}' // full-width commercial at
        | '\u{FE6B}' // small commercial at
        | '\u{3002}' // ideographic full stop
        | '\u{FF0E}' // full-width full stop
        | '\u{FF61}' // half-width ideographic full stop
        | '\u{FE52}' // small full stop
        | '\u{2024}' // one dot leader
    )
}

/// Invisible formatting characters (Unicode category Cf and similar) that end up in CRM
/// fields through copy and paste.
fn is_invisible(ch: char) -> bool {
    matches!(
        ch,
        '\u{00AD}' // soft hyphen
        | '\u{061C}' // Arabic letter mark
        | '\u{180E}' // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, joiners, direction marks
        | '\u{202A}'..='\u{202E}' // direction embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}' // direction isolates, deprecated format characters
        | '\u{FEFF}' // byte-order mark
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
    )
}

fn describe_whitespace(ch: char) -> String {
    match ch {
        ' ' => "a space".to_string(),
        '\t' => "a tab".to_string(),
        '\n' | '\r' => "a line break".to_string(),
        '\u{00A0}' => "a non-breaking space".to_string(),
        _ => format!("whitespace (U+{:04X})", u32::from(ch)),
    }
}

// Punycode (RFC 3492), encoding only, to measure internationalised labels.
const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

fn adapt(delta: u32, num_points: u32, first_time: bool) -> u32 {
    let mut delta = if first_time { delta / DAMP } else { delta / 2 };
    delta += delta / num_points.max(1);
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn punycode_digit(d: u32) -> char {
    let byte = if d < 26 {
        b'a' + d as u8
    } else {
        b'0' + (d - 26) as u8
    };
    char::from(byte)
}

/// Encodes a label to Punycode (without the `xn--` prefix); `None` on arithmetic overflow.
fn punycode_encode(input: &[char]) -> Option<String> {
    let mut output: String = input.iter().filter(|c| c.is_ascii()).collect();
    let basic = u32::try_from(output.len()).ok()?;
    let total = u32::try_from(input.len()).ok()?;
    if basic > 0 {
        output.push('-');
    }
    let mut n = INITIAL_N;
    let mut delta: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let mut handled = basic;
    while handled < total {
        let m = input
            .iter()
            .map(|&c| u32::from(c))
            .filter(|&c| c >= n)
            .min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            let c = u32::from(c);
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(punycode_digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(punycode_digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

#[cfg(test)]
mod tests {

    /// The one-pass check of plain addresses agrees with the full one.
    #[test]
    fn plain_addresses_agree_with_the_full_check() {
        let full = |s: &str| validate(normalize(s)).is_ok() && normalize(s) == s;
        let mut cases: Vec<String> = [
            "a@b.fr",
            "a.b@c.d.e",
            "a..b@c.d",
            ".a@b.c",
            "a.@b.c",
            "a@b",
            "a@.b.c",
            "a@b..c",
            "a@b.c.",
            "a@-b.c",
            "a@b-.c",
            "a@b.123",
            "a@b.c1",
            "a@1.2.x",
            "@b.c",
            "a@",
            "a@@b.c",
            "a@b@c.d",
            "a b@c.d",
            " a@b.c",
            "a@b.c ",
            "\"a\"@b.c",
            "a@[1.2.3.4]",
            "a_b@c.d",
            "a@b_c.d",
            "a!#$%&'*+-/=?^_`{|}~@x.yz",
            "a,b@c.d",
            "a@b.c/",
            "é@b.c",
            "a@é.fr",
            "a\u{200b}@b.c",
            "a@b.c\u{feff}",
            "A-Z@EX-AMPLE.COM",
            "a@b.-c",
            "a@b.c-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push(format!("{}@b.c", "a".repeat(64)));
        cases.push(format!("{}@b.c", "a".repeat(65)));
        cases.push(format!("a@{}.c", "b".repeat(63)));
        cases.push(format!("a@{}.c", "b".repeat(64)));
        cases.push(format!("a@{}.com", vec!["b".repeat(60); 4].join(".")));
        cases.push(format!(
            "{}@{}.com",
            "a".repeat(10),
            vec!["b".repeat(60); 4].join(".")
        ));
        cases.push(format!(
            "{}@{}.c",
            "a".repeat(64),
            vec!["b".repeat(62); 3].join(".")
        ));
        cases.push(format!(
            "{}@{}.c",
            "a".repeat(64),
            vec!["b".repeat(61); 3].join(".")
        ));
        // Every short string over a small alphabet with the characters that matter.
        let alphabet = ['a', '1', '.', '@', '-', '_', ' '];
        let mut short = vec![String::new()];
        for _ in 0..6 {
            let mut longer = Vec::new();
            for s in &short {
                for c in alphabet {
                    longer.push(format!("{s}{c}"));
                }
            }
            cases.extend(longer.iter().cloned());
            short = longer;
        }
        for case in &cases {
            let plain = is_plain_valid(case.as_bytes());
            if case.is_ascii() {
                assert_eq!(plain, full(case), "{case:?}");
            } else {
                assert!(!plain || full(case), "{case:?}");
            }
            if is_plain_valid(case.as_bytes()) {
                assert_eq!(check(case), Ok(case.as_str()));
            }
        }
    }

    use super::*;

    fn encode(s: &str) -> Option<String> {
        punycode_encode(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn punycode_matches_known_encodings() {
        assert_eq!(encode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(encode("münchen").as_deref(), Some("mnchen-3ya"));
        assert_eq!(encode("例え").as_deref(), Some("r8jz45g"));
        assert_eq!(encode("exämple").as_deref(), Some("exmple-cua"));
        // RFC 3492 section 7.1 sample (A): Arabic (Egyptian).
        assert_eq!(
            encode(
                "\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}\
                 \u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}"
            )
            .as_deref(),
            Some("egbpdaj6bu4bxfgehfvwxn")
        );
        // RFC 3492 sample (B): Chinese (simplified).
        assert_eq!(
            encode("\u{4ED6}\u{4EEC}\u{4E3A}\u{4EC0}\u{4E48}\u{4E0D}\u{8BF4}\u{4E2D}\u{6587}")
                .as_deref(),
            Some("ihqwcrb4cv8a8dqg056pqjye")
        );
    }

    #[test]
    fn ascii_form_length_of_labels() {
        assert_eq!(ascii_label_len("example"), 7);
        assert_eq!(ascii_label_len("例え"), "xn--r8jz45g".len());
        assert_eq!(ascii_label_len("Bücher"), "xn--bcher-kva".len());
    }
}
