//! Well-formedness of BCP 47 language tags (RFC 5646, section 2.1), with helpful messages for
//! the common slips (`fr_FR`, `french`).

/// Checks that `tag` is a well-formed BCP 47 language tag. On failure returns a message and a
/// help line.
pub fn check_tag(tag: &str) -> Result<(), (String, String)> {
    if tag.is_empty() {
        return Err((
            String::from("the language tag is empty"),
            String::from("write a BCP 47 tag such as \"fr\", \"de\" or \"pt-BR\""),
        ));
    }
    if tag.contains('_') {
        return Err((
            format!("`{tag}` is not a BCP 47 language tag"),
            format!(
                "BCP 47 separates subtags with `-`: write \"{}\"",
                tag.replace('_', "-")
            ),
        ));
    }
    if well_formed(tag) {
        return Ok(());
    }
    let help = match tag.to_ascii_lowercase().as_str() {
        "french" | "francais" | "français" => "write \"fr\"",
        "german" | "deutsch" => "write \"de\"",
        "english" => "write \"en\"",
        "spanish" | "espanol" | "español" => "write \"es\"",
        "italian" | "italiano" => "write \"it\"",
        "portuguese" | "portugues" | "português" => "write \"pt\"",
        "dutch" => "write \"nl\"",
        _ => {
            "write a BCP 47 tag: a 2- or 3-letter language, then optional script and region, such as \"fr\", \"pt-BR\" or \"zh-Hant-TW\""
        }
    };
    Err((
        format!("`{tag}` is not a well-formed BCP 47 language tag"),
        help.to_string(),
    ))
}

fn alpha(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `langtag` and `privateuse` productions of RFC 5646, with the primary language limited to
/// the 2- or 3-letter subtags that exist (irregular grandfathered tags are not accepted: no CRM
/// language picklist uses them).
fn well_formed(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    let first = parts.first().copied().unwrap_or("");
    if first.eq_ignore_ascii_case("x") {
        return parts.len() > 1 && parts.iter().skip(1).all(|p| alnum(p, 1, 8));
    }
    // language
    let mut i = 1;
    if alpha(first, 2, 3) {
        // extlang: up to three 3-letter subtags
        let mut ext = 0;
        while ext < 3 && parts.get(i).is_some_and(|p| alpha(p, 3, 3)) {
            i += 1;
            ext += 1;
        }
    } else {
        // RFC 5646 reserves 4- to 8-letter primary subtags, but none is registered: a word such
        // as "french" is a slip, not a tag.
        return false;
    }
    // script
    if parts.get(i).is_some_and(|p| alpha(p, 4, 4)) {
        i += 1;
    }
    // region
    if parts.get(i).is_some_and(|p| alpha(p, 2, 2) || digits(p, 3)) {
        i += 1;
    }
    // variants
    while parts.get(i).is_some_and(|p| {
        alnum(p, 5, 8)
            || (p.len() == 4
                && p.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && alnum(p, 4, 4))
    }) {
        i += 1;
    }
    // extensions
    while let Some(p) = parts.get(i) {
        if p.len() == 1 && alnum(p, 1, 1) && !p.eq_ignore_ascii_case("x") {
            i += 1;
            let start = i;
            while parts.get(i).is_some_and(|q| alnum(q, 2, 8)) {
                i += 1;
            }
            if i == start {
                return false;
            }
        } else {
            break;
        }
    }
    // private use
    if parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case("x")) {
        i += 1;
        let start = i;
        while parts.get(i).is_some_and(|q| alnum(q, 1, 8)) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == parts.len()
}

#[cfg(test)]
mod tests {
    use super::check_tag;

    #[test]
    fn accepts_well_formed_tags() {
        for t in [
            "fr",
            "de",
            "pt-BR",
            "zh-Hant-TW",
            "es-419",
            "en-GB-oxendict",
            "sr-Latn",
            "x-klingon",
            "de-CH-1996",
            "en-a-bbb-x-a-ccc",
        ] {
            assert!(check_tag(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn rejects_malformed_tags() {
        for t in [
            "", "f", "fr_FR", "french1", "fr-", "-fr", "fr--BE", "123", "fr-a", "x", "fr-BE-x",
            "french",
        ] {
            assert!(check_tag(t).is_err(), "{t}");
        }
        assert!(
            check_tag("fr_FR")
                .err()
                .is_some_and(|(_, h)| h.contains("fr-FR"))
        );
    }
}
