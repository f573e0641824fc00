//! Generates a realistic, deterministic stream of MonProfil CRM events for `herald route`.
//!
//! `cargo run --release --example gen_events -- --count 1000000 --seed 42`
//!
//! Each stdout line is `{"event": "create"|"update", "record": {...}}`. About 75% of events
//! create a new contact; the rest update one seen before (same id, the full record, as CRM
//! webhooks send it), sometimes with a corrected email, a trial that became paid, an opt-out or
//! a cancellation. Some records are messy on purpose: missing, null or invalid emails, missing
//! fields, integers written as decimals. The same seed always gives the same stream.

use serde_json::{Value, json};
use std::io::{self, BufWriter, Write};

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (the modulo bias is negligible for test data).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) * 100.0 < percent
    }
    /// One word of a space-separated list.
    fn word(&mut self, list: &'static str) -> &'static str {
        let n = list.split(' ').count() as u64;
        list.split(' ').nth(self.below(n) as usize).unwrap_or(list)
    }
}

/// Mailing country, weight in percent, phone prefix, cities as `City/usual language`.
const COUNTRIES: [(&str, u64, &str, &str); 14] = [
    ("FR", 45, "+33", "Paris/fr Lyon/fr Marseille/fr Lille/fr Nantes/fr Bordeaux/fr"),
    ("BE", 8, "+32", "Bruxelles/fr Liège/fr Namur/fr"),
    ("CH", 7, "+41", "Genève/fr Lausanne/fr Zürich/de Bern/de Lugano/it"),
    ("DE", 8, "+49", "Berlin/de München/de Hamburg/de Köln/de"),
    ("ES", 6, "+34", "Madrid/es Barcelona/es Valencia/es"),
    ("IT", 5, "+39", "Milano/it Roma/it Torino/it"),
    ("LU", 2, "+352", "Luxembourg/fr Esch-sur-Alzette/fr"),
    ("MC", 1, "+377", "Monaco/fr"),
    ("AT", 3, "+43", "Wien/de Graz/de"),
    ("PT", 3, "+351", "Lisboa/pt Porto/pt"),
    ("GB", 4, "+44", "London/en Manchester/en"),
    ("IE", 2, "+353", "Dublin/en Cork/en"),
    ("US", 4, "+1", "Boston/en Chicago/en"),
    ("CA", 2, "+1", "Montréal/fr Toronto/en"),
];
const FIRST_NAMES: [(&str, &str); 6] = [
    ("fr", "Camille Léa Hugo Chloé Louis Inès Thomas Manon François Zoé"),
    ("de", "Jonas Lena Lukas Anna Felix Sophie Jürgen Marie"),
    ("es", "Lucía Hugo Martina Pablo Sofía Álvaro Carmen"),
    ("it", "Giulia Marco Francesca Luca Chiara Matteo"),
    ("pt", "João Ana Tiago Beatriz Rui"),
    ("en", "Oliver Emma Jack Olivia Liam Grace"),
];
const LAST_NAMES: [(&str, &str); 6] = [
    ("fr", "Martin Bernard Dubois Petit Durand Lefèvre Moreau Laurent Girard Rousseau"),
    ("de", "Müller Schmidt Schneider Fischer Weber Meier Keller Schäfer"),
    ("es", "García Fernández López Martínez Sánchez Pérez"),
    ("it", "Rossi Russo Ferrari Esposito Bianchi Romano"),
    ("pt", "Silva Santos Ferreira Pereira Gonçalves"),
    ("en", "Smith Jones Taylor Brown O'Neill Walsh"),
];
const WEBMAIL: &str = "gmail.com hotmail.com outlook.com icloud.com";
const IDN_DOMAINS: &str = "société-emploi.fr münchen.de zürich.ch españa.es";
const LEAD_SOURCES: &str = "Google_Ads SEO LinkedIn Facebook Referral Job_Fair School_Partner";
const TAGS: [(&str, f64); 5] = [("vip", 4.0), ("beta", 4.0), ("partner", 2.0), ("student", 12.0), ("recruiter", 3.0)];
const T2019: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z: the oldest imported contact
const T2025: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z: the first event
const T2026: i64 = 1_769_817_600; // 2026-01-31T00:00:00Z: the last event

// What updates have changed on a contact so far (bit flags, kept per record id).
const FIX_EMAIL: u8 = 1;
const NOW_PAID: u8 = 2;
const OPTED_OUT: u8 = 4;
const CANCELLED: u8 = 8;

/// A record's fields in output order (independent of serde_json's map features).
type Fields = Vec<(&'static str, Value)>;

fn set(fields: &mut Fields, key: &'static str, value: Value) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(field) => field.1 = value,
        None => fields.push((key, value)),
    }
}

fn names(table: &[(&str, &'static str); 6], lang: &str) -> &'static str {
    table.iter().find(|t| t.0 == lang).map_or(table[0].1, |t| t.1)
}

/// Lowercase ASCII for an email local part: `Lefèvre` -> `lefevre`, `O'Neill` -> `oneill`.
fn ascii(s: &str) -> String {
    let fold = |c| match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
        'ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        c => c,
    };
    s.to_lowercase().chars().map(fold).filter(char::is_ascii_alphanumeric).collect()
}

/// `YYYY-MM-DD` of a Unix time, via Howard Hinnant's `civil_from_days`.
fn date(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (doy - (153 * mp + 2) / 5 + 1, if mp < 10 { mp + 3 } else { mp - 9 });
    format!("{:04}-{m:02}-{d:02}", yoe + era * 400 + i64::from(m <= 2))
}

/// RFC 3339, in UTC (`Z`) or in Paris winter time (`+01:00`).
fn datetime(t: i64, paris: bool) -> String {
    let (local, zone) = if paris { (t + 3600, "+01:00") } else { (t, "Z") };
    let s = local.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}{zone}", date(local), s / 3600, s / 60 % 60, s % 60)
}

/// The contact created as record number `n` (0-based) at time `created`, before any update,
/// and whether its email is a valid address. It depends only on the seed and `n`.
fn contact(seed: u64, n: u64, created: i64) -> (Fields, bool) {
    let mut r = Rng(seed ^ (n + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut roll = r.below(100);
    let country = COUNTRIES.iter().find(|c| roll < c.1 || (roll -= c.1) != ());
    let (code, _, prefix, cities) = *country.unwrap_or(&COUNTRIES[0]);
    let (city, lang) = r.word(cities).split_once('/').unwrap_or(("Paris", "fr"));
    let (first, last) = (r.word(names(&FIRST_NAMES, lang)), r.word(names(&LAST_NAMES, lang)));
    let mut local = format!("{}.{}", ascii(first), ascii(last));
    if r.chance(20.0) {
        local += &(60 + r.below(45)).to_string(); // a birth year, as people do
    }
    let domain = match code {
        _ if r.chance(50.0) => r.word(WEBMAIL),
        "FR" | "MC" => r.word("orange.fr free.fr laposte.net sfr.fr wanadoo.fr"),
        "BE" | "LU" => r.word("skynet.be telenet.be pt.lu"),
        "CH" => r.word("bluewin.ch gmx.ch"),
        "DE" | "AT" => r.word("gmx.de web.de t-online.de"),
        "IT" => r.word("libero.it virgilio.it"),
        _ => r.word("yahoo.com proton.me"),
    };
    let roll = r.below(1000);
    let address = match roll {
        30..=34 => format!("{local}@gmail"), // 30..=49: 2% invalid addresses, four ways
        35..=39 => format!("{}@@{domain}", ascii(first)),
        40..=44 => format!("{} {}@{domain}", ascii(first), ascii(last)),
        45..=49 => format!("{local}{domain}"),
        50..=59 => format!("{local}+cv@{domain}"), // plus-addressing: valid
        60..=64 => format!("{local}@{}", r.word(IDN_DOMAINS)), // IDN domain: valid
        65..=74 => format!("{local}@{domain}").to_uppercase(), // typed in capitals: valid
        _ => format!("{local}@{domain}"),
    };
    let email = match roll {
        0..=14 => None,               // 1.5%: no Email key at all
        15..=24 => Some(Value::Null), // 1%: "Email": null
        25..=29 => Some(json!("")),   // 0.5%: blank
        _ => Some(json!(address)),
    };
    let email_ok = roll >= 50;
    let subscription = match r.below(20) {
        0..=11 => "paid", // 60%
        12..=15 => "trial",
        16..=18 => "free",
        _ => "cancelled",
    };
    let plan = match subscription {
        "paid" => json!(r.word("basic basic premium business")),
        "trial" => json!("premium"),
        _ => Value::Null,
    };
    let language = match r.below(100) {
        0..=3 => None,                  // never filled in
        4..=11 => Some(json!("en")),    // expatriates
        _ => Some(json!(lang)),
    };
    let age = 18 + r.below(30) + r.below(20);
    let age = match r.below(100) {
        0..=4 => None,
        5..=12 => Some(json!(age as f64)), // an integer sent as a decimal: 34.0
        _ => Some(json!(age)),
    };
    let months = if matches!(subscription, "trial" | "free") { 0 } else { 1 + r.below(36) };
    let value = months as f64 * [9.9, 19.9, 29.9][r.below(3) as usize];
    let opted_out = match r.below(100) {
        0..=2 => Some(json!(true)),
        3..=10 => None,
        11..=14 => Some(Value::Null),
        _ => Some(json!(false)),
    };
    let tags: Vec<&str> = TAGS.iter().filter(|t| r.chance(t.1)).map(|t| t.0).collect();
    let signup = if r.chance(20.0) { T2019 + r.below((T2025 - T2019) as u64) as i64 } else { created };
    let fields = [
        ("id", Some(json!(format!("c{:06}", n + 1)))),
        ("Customer_Number", Some(json!(format!("MP-{:06}", n + 1)))),
        ("Full_Name", r.chance(99.0).then(|| json!(format!("{first} {last}")))),
        ("First_Name", Some(json!(first))),
        ("Last_Name", Some(json!(last))),
        ("Email", email),
        ("Secondary_Email", r.chance(15.0).then(|| json!(format!("{}@{}", ascii(first), r.word(WEBMAIL))))),
        ("Email_Verified", r.chance(97.0).then(|| json!(email_ok && r.chance(88.0)))),
        ("Phone", r.chance(90.0).then(|| json!(format!("{prefix} {} {:02} {:02} {:02} {:02}", 6 + r.below(2), r.below(100), r.below(100), r.below(100), r.below(100))))),
        ("Mailing_City", Some(json!(city))),
        ("Mailing_Country", r.chance(99.0).then_some(json!(code))),
        ("Preferred_Language", language),
        ("Subscription", r.chance(99.0).then_some(json!(subscription))),
        ("Plan", Some(plan)),
        ("Age", age),
        ("Lifetime_Value", Some(if r.chance(10.0) { json!(value.round() as i64) } else { json!((value * 100.0).round() / 100.0) })),
        ("Profile_Completeness", Some(json!(r.below(1001) as f64 / 10.0))),
        ("Opted_Out", opted_out),
        ("Tags", r.chance(95.0).then_some(json!(tags))),
        ("Signup_Date", r.chance(98.0).then(|| json!(date(signup)))),
        ("Lead_Source", r.chance(90.0).then(|| json!(r.word(LEAD_SOURCES).replace('_', " ")))),
        ("LinkedIn_Profile", r.chance(25.0).then(|| json!(format!("https://www.linkedin.com/in/{}-{}-{:x}", ascii(first), ascii(last), r.below(1 << 24))))),
        ("Description", r.chance(3.0).then(|| json!(r.word("Client_historique. Facture_entreprise. Ancien_étudiant.").replace('_', " ")))),
    ];
    (fields.into_iter().filter_map(|(k, v)| Some((k, v?))).collect(), email_ok)
}

/// Applies the changes updates have made so far, then stamps the event's Last_Login.
fn apply(f: &mut Fields, flags: u8, now: i64, ev: &mut Rng) {
    if flags & FIX_EMAIL != 0 {
        let name = |key| f.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_str()).map(ascii);
        let email = format!("{}.{}@gmail.com", name("First_Name").unwrap_or_default(), name("Last_Name").unwrap_or_default());
        set(f, "Email", json!(email));
        set(f, "Email_Verified", json!(true));
    }
    if flags & NOW_PAID != 0 {
        set(f, "Subscription", json!("paid"));
        set(f, "Plan", json!("premium"));
    }
    if flags & CANCELLED != 0 {
        set(f, "Subscription", json!("cancelled"));
    }
    if flags & OPTED_OUT != 0 {
        set(f, "Opted_Out", json!(true));
    }
    if ev.chance(92.0) {
        set(f, "Last_Login", json!(datetime(now - ev.below(6 * 3600) as i64, ev.chance(30.0))));
    }
}

fn write_event(out: &mut impl Write, kind: &str, fields: &Fields) -> io::Result<()> {
    write!(out, "{{\"event\":\"{kind}\",\"record\":{{")?;
    for (i, (key, value)) in fields.iter().enumerate() {
        write!(out, "{}\"{key}\":{value}", if i == 0 { "" } else { "," })?;
    }
    writeln!(out, "}}}}")
}

fn run(count: u64, seed: u64) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let mut ev = Rng(seed);
    let mut seen: Vec<(i64, u8)> = Vec::new(); // per record: creation time, update flags
    for i in 0..count {
        let now = T2025 + ((T2026 - T2025) as f64 * i as f64 / count as f64) as i64;
        if seen.is_empty() || !ev.chance(25.0) {
            let (mut f, _) = contact(seed, seen.len() as u64, now);
            apply(&mut f, 0, now, &mut ev);
            seen.push((now, 0));
            write_event(&mut out, "create", &f)?;
            continue;
        }
        // Updates mostly touch recent contacts: a trial converts within days.
        let len = seen.len() as u64;
        let n = if ev.chance(70.0) { len - 1 - ev.below(len.min(2000)) } else { ev.below(len) };
        let (created, mut flags) = seen[n as usize];
        let (mut f, email_ok) = contact(seed, n, created);
        let sub = f.iter().find(|(k, _)| *k == "Subscription").and_then(|(_, v)| v.as_str());
        if !email_ok && flags & FIX_EMAIL == 0 && ev.chance(50.0) {
            flags |= FIX_EMAIL; // the customer, or support, corrected the address
        } else if matches!(sub, Some("trial" | "free")) && flags & NOW_PAID == 0 && ev.chance(35.0) {
            flags |= NOW_PAID;
        } else if ev.chance(3.0) {
            flags |= OPTED_OUT;
        } else if (sub == Some("paid") || flags & NOW_PAID != 0) && ev.chance(3.0) {
            flags |= CANCELLED;
        }
        seen[n as usize].1 = flags;
        apply(&mut f, flags, now, &mut ev);
        write_event(&mut out, "update", &f)?;
    }
    out.flush()
}

fn main() {
    let (mut count, mut seed) = (1000_u64, 42_u64);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1).and_then(|v| v.parse().ok())) {
            ("--count", Some(v)) => count = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: gen_events [--count N] [--seed S]   (defaults: 1000 and 42)");
                std::process::exit(2);
            }
        }
    }
    match run(count, seed) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("gen_events: {e}");
            std::process::exit(1);
        }
        _ => {}
    }
}
