//! Generates a realistic, deterministic stream of MonProfil CRM events for `herald route`:
//! `cargo run --release --example gen_events -- --count 1000000 --seed 42`.
//!
//! Each line is `{"event": "create"|"update", "record": {...}}`. About 75% of events create a
//! contact; the others update one seen before (same id, full record, as CRM webhooks send it),
//! sometimes with a corrected email, a trial turned paid, an opt-out or a cancellation. Some
//! records are messy on purpose: missing, null or invalid emails, missing fields, integers
//! written as decimals. The same seed always gives the same stream.

use serde_json::{Value, json};
use std::io::{self, BufWriter, Write};

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (the modulo bias is negligible for test data).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 < percent
    }
    /// One word of a space-separated list, all equally likely.
    fn word(&mut self, list: &'static str) -> &'static str {
        let n = list.split(' ').count() as u64;
        list.split(' ').nth(self.below(n) as usize).unwrap_or(list)
    }
    /// A weighted choice among `word:weight` items: `"paid:3 trial:1"` is `paid` 3 times in 4.
    fn pick(&mut self, items: &'static str) -> &'static str {
        let items = items.split(' ').filter_map(|item| item.rsplit_once(':'));
        let items: Vec<(&str, u64)> = items.map(|(w, n)| (w, n.parse().unwrap_or(0))).collect();
        let mut roll = self.below(items.iter().map(|item| item.1).sum());
        for (word, weight) in items {
            if roll < weight {
                return word;
            }
            roll -= weight;
        }
        ""
    }
}

/// Mailing country, weight in percent, phone prefix, cities as `City/usual language`, local ISPs.
#[rustfmt::skip]
const COUNTRIES: [(&str, u64, &str, &str, &str); 14] = [
    ("FR", 45, "+33", "Paris/fr Lyon/fr Marseille/fr Lille/fr Nantes/fr", "orange.fr free.fr laposte.net sfr.fr"),
    ("BE", 8, "+32", "Bruxelles/fr Liège/fr Namur/fr", "skynet.be telenet.be"),
    ("CH", 7, "+41", "Genève/fr Lausanne/fr Zürich/de Bern/de Lugano/it", "bluewin.ch gmx.ch"),
    ("DE", 8, "+49", "Berlin/de München/de Hamburg/de Köln/de", "gmx.de web.de t-online.de"),
    ("ES", 6, "+34", "Madrid/es Barcelona/es Valencia/es", "telefonica.net yahoo.es"),
    ("IT", 5, "+39", "Milano/it Roma/it Torino/it", "libero.it virgilio.it"),
    ("LU", 2, "+352", "Luxembourg/fr Esch-sur-Alzette/fr", "pt.lu"),
    ("MC", 1, "+377", "Monaco/fr", "monaco.mc"),
    ("AT", 3, "+43", "Wien/de Graz/de", "gmx.at aon.at"),
    ("PT", 3, "+351", "Lisboa/pt Porto/pt", "sapo.pt"),
    ("GB", 4, "+44", "London/en Manchester/en", "btinternet.com"),
    ("IE", 2, "+353", "Dublin/en Cork/en", "eircom.net"),
    ("US", 4, "+1", "Boston/en Chicago/en", "yahoo.com"),
    ("CA", 2, "+1", "Montréal/fr Toronto/en", "videotron.ca"),
];
/// Language, first names, last names.
#[rustfmt::skip]
const NAMES: [(&str, &str, &str); 6] = [
    ("fr", "Camille Léa Hugo Chloé Louis Inès Thomas Manon", "Martin Bernard Dubois Petit Durand Lefèvre Moreau"),
    ("de", "Jonas Lena Lukas Anna Felix Sophie Jürgen", "Müller Schmidt Schneider Fischer Weber Meier Keller"),
    ("es", "Lucía Hugo Martina Pablo Sofía Álvaro Carmen", "García Fernández López Martínez Sánchez Pérez"),
    ("it", "Giulia Marco Francesca Luca Chiara Matteo", "Rossi Russo Ferrari Esposito Bianchi Romano"),
    ("pt", "João Ana Tiago Beatriz Rui", "Silva Santos Ferreira Pereira Gonçalves"),
    ("en", "Oliver Emma Jack Olivia Liam Grace", "Smith Jones Taylor Brown O'Neill Walsh"),
];
/// How people type their email address, per mille: 3% missing, 2% invalid, the rest valid.
const EMAIL_KINDS: &str = "absent:15 null:10 blank:5 no-tld:5 two-at:5 space:5 no-at:5 \
                           plus:10 idn:5 capitals:10 plain:925";
const WEBMAIL: &str = "gmail.com hotmail.com outlook.com icloud.com";
const IDN_DOMAINS: &str = "société-emploi.fr münchen.de zürich.ch españa.es";
const SOURCES: &str = "Google_Ads SEO LinkedIn Facebook Referral Job_Fair School_Partner";
/// Tags, and the percentage of contacts that carry each.
#[rustfmt::skip]
const TAGS: [(&str, f64); 5] =
    [("vip", 4.0), ("beta", 4.0), ("student", 12.0), ("recruiter", 3.0), ("partner", 2.0)];
const T2019: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z: the oldest imported contact
const T2025: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z: the first event
const T2026: i64 = 1_769_817_600; // 2026-01-31T00:00:00Z: the last event

// What updates have changed on a contact so far (bit flags, kept per record).
const FIX_EMAIL: u8 = 1;
const NOW_PAID: u8 = 2;
const OPTED_OUT: u8 = 4;
const CANCELLED: u8 = 8;

/// A record's fields in output order (whatever serde_json's map features are).
type Fields = Vec<(&'static str, Value)>;

fn get<'a>(f: &'a Fields, key: &str) -> &'a str {
    let value = f.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    value.and_then(Value::as_str).unwrap_or("")
}

fn set(f: &mut Fields, key: &'static str, value: Value) {
    match f.iter_mut().find(|(k, _)| *k == key) {
        Some(field) => field.1 = value,
        None => f.push((key, value)),
    }
}

/// A field from a chosen word: `absent` leaves it out, `null`, `true` and `false` are JSON.
fn field(word: &str) -> Option<Value> {
    match word {
        "absent" => None,
        "null" | "true" | "false" => serde_json::from_str(word).ok(),
        _ => Some(json!(word)),
    }
}

/// Lowercase ASCII for an email local part: `Lefèvre` -> `lefevre`, `O'Neill` -> `oneill`.
fn ascii(s: &str) -> String {
    let fold = |c| match "àáâäãçéèêëíîïñóôöõúùûü".chars().position(|f| f == c)
    {
        Some(i) => "aaaaaceeeeiiinoooouuuu".as_bytes()[i] as char,
        None => c,
    };
    let keep = |c: &char| c.is_ascii_alphanumeric();
    s.to_lowercase().chars().map(fold).filter(keep).collect()
}

/// `YYYY-MM-DD` of a Unix time, with Howard Hinnant's `civil_from_days`.
fn date(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{m:02}-{d:02}", yoe + era * 400 + i64::from(m <= 2))
}

/// RFC 3339, in UTC or in Paris winter time (`+01:00`).
fn datetime(t: i64, paris: bool) -> String {
    let (t, zone) = [(t, "Z"), (t + 3600, "+01:00")][usize::from(paris)];
    let (h, m, s) = (t.rem_euclid(86_400) / 3600, t / 60 % 60, t % 60);
    format!("{}T{h:02}:{m:02}:{s:02}{zone}", date(t))
}

/// The contact created as record number `n` (0-based) at time `created`, before any update,
/// and whether its email is a valid address. It depends only on the seed and `n`.
fn contact(seed: u64, n: u64, created: i64) -> (Fields, bool) {
    let mut r = Rng(seed ^ (n + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let (roll, mut total) = (r.below(100), 0);
    let country = COUNTRIES.iter().find(|c| {
        total += c.1; // cumulative weights
        roll < total
    });
    let (code, _, prefix, cities, isps) = *country.unwrap_or(&COUNTRIES[0]);
    let (city, lang) = r.word(cities).split_once('/').unwrap_or(("Paris", "fr"));
    let names = NAMES
        .iter()
        .find(|names| names.0 == lang)
        .unwrap_or(&NAMES[0]);
    let (first, last) = (r.word(names.1), r.word(names.2));
    let year = r.pick(":80 85:4 91:4 78:4 2001:4 69:4"); // some add their birth year
    let local = format!("{}.{}{year}", ascii(first), ascii(last));
    let webmail = r.chance(50.0);
    let domain = r.word(if webmail { WEBMAIL } else { isps });
    let kind = r.pick(EMAIL_KINDS);
    let email = match kind {
        "blank" => String::new(),
        "no-tld" => format!("{local}@gmail"),
        "two-at" => format!("{}@@{domain}", ascii(first)),
        "space" => format!("{} {}@{domain}", ascii(first), ascii(last)),
        "no-at" => format!("{local}{domain}"),
        "plus" => format!("{local}+cv@{domain}"),
        "idn" => format!("{local}@{}", r.word(IDN_DOMAINS)),
        "capitals" => format!("{local}@{domain}").to_uppercase(),
        "plain" => format!("{local}@{domain}"),
        other => other.to_string(), // absent or null
    };
    let email_ok = matches!(kind, "plus" | "idn" | "capitals" | "plain");
    let subscription = r.pick("paid:60 trial:20 free:14 cancelled:5 absent:1");
    let plan = match subscription {
        "paid" | "cancelled" => r.pick("basic:2 premium:1 business:1"),
        "trial" => "premium",
        _ => "null",
    };
    let language = r.pick("absent:4 en:8 usual:88").replace("usual", lang); // en: expatriates
    let age = 18 + r.below(30) + r.below(20);
    let (int, dec) = (json!(age), json!(age as f64));
    let age = if r.chance(8.0) { dec } else { int }; // 34 or, from some forms, 34.0
    let months = u64::from(matches!(subscription, "paid" | "cancelled")) * (1 + r.below(36));
    let price = [9.9, 19.9, 29.9][r.below(3) as usize];
    let opted_out = r.pick("true:3 absent:8 null:4 false:85");
    let tags: Vec<&str> = TAGS.iter().filter(|t| r.chance(t.1)).map(|t| t.0).collect();
    let imported = T2019 + r.below((T2025 - T2019) as u64) as i64; // from the old CRM
    let signup = if r.chance(20.0) { imported } else { created };
    let phone = format!("{prefix} {} {:08}", 6 + r.below(2), r.below(100_000_000));
    let verified = email_ok && r.chance(88.0);
    // Field, value, and the percentage of records that carry it.
    #[rustfmt::skip]
    let fields = [
        ("id", Some(json!(format!("c{:06}", n + 1))), 100.0),
        ("Full_Name", Some(json!(format!("{first} {last}"))), 99.0),
        ("First_Name", Some(json!(first)), 100.0),
        ("Last_Name", Some(json!(last)), 100.0),
        ("Email", field(&email), 100.0),
        ("Secondary_Email", Some(json!(format!("{local}@{}", r.word(WEBMAIL)))), 15.0),
        ("Email_Verified", Some(json!(verified)), 97.0),
        ("Phone", Some(json!(phone)), 90.0),
        ("Mailing_City", Some(json!(city)), 100.0),
        ("Mailing_Country", Some(json!(code)), 99.0),
        ("Preferred_Language", field(&language), 100.0),
        ("Subscription", field(subscription), 100.0),
        ("Plan", field(plan), 100.0),
        ("Age", Some(age), 95.0),
        ("Lifetime_Value", Some(json!((months as f64 * price * 100.0).round() / 100.0)), 100.0),
        ("Profile_Completeness", Some(json!(r.below(1001) as f64 / 10.0)), 100.0),
        ("Opted_Out", field(opted_out), 100.0),
        ("Tags", Some(json!(tags)), 95.0),
        ("Signup_Date", Some(json!(date(signup))), 98.0),
        ("Lead_Source", Some(json!(r.word(SOURCES).replace('_', " "))), 90.0),
    ];
    let kept = fields.into_iter().filter(|f| r.chance(f.2));
    let fields: Fields = kept.filter_map(|(k, v, _)| Some((k, v?))).collect();
    (fields, email_ok)
}

/// Applies the changes updates have made so far, then stamps the event's Last_Login.
fn apply(f: &mut Fields, flags: u8, now: i64, ev: &mut Rng) {
    let (first, last) = (ascii(get(f, "First_Name")), ascii(get(f, "Last_Name")));
    #[rustfmt::skip]
    let changes = [
        (FIX_EMAIL, "Email", json!(format!("{first}.{last}@gmail.com"))),
        (FIX_EMAIL, "Email_Verified", json!(true)),
        (NOW_PAID, "Subscription", json!("paid")),
        (NOW_PAID, "Plan", json!("premium")),
        (CANCELLED, "Subscription", json!("cancelled")),
        (OPTED_OUT, "Opted_Out", json!(true)),
    ];
    for (flag, key, value) in changes {
        if flags & flag != 0 {
            set(f, key, value);
        }
    }
    let login = datetime(now - ev.below(6 * 3600) as i64, ev.chance(30.0));
    if ev.chance(92.0) {
        set(f, "Last_Login", json!(login));
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
        let len = seen.len() as u64;
        // A quarter of the events update a known contact, mostly a recent one.
        let n = match len > 0 && ev.chance(25.0) {
            false => len,
            true if ev.chance(70.0) => len - 1 - ev.below(len.min(2000)),
            true => ev.below(len),
        };
        if n == len {
            seen.push((now, 0));
        }
        let (created, mut flags) = seen[n as usize];
        let (mut f, email_ok) = contact(seed, n, created);
        let paid = get(&f, "Subscription") == "paid" || flags & NOW_PAID != 0;
        let convertible = !paid && matches!(get(&f, "Subscription"), "trial" | "free");
        flags |= match () {
            _ if n == len => 0, // a new contact
            _ if !email_ok && flags & FIX_EMAIL == 0 && ev.chance(50.0) => FIX_EMAIL,
            _ if convertible && ev.chance(35.0) => NOW_PAID, // a trial or free plan converted
            _ if ev.chance(3.0) => OPTED_OUT,
            _ if paid && ev.chance(3.0) => CANCELLED,
            _ => 0, // a routine edit: only Last_Login changes
        };
        seen[n as usize].1 = flags;
        apply(&mut f, flags, now, &mut ev);
        write_event(&mut out, if n == len { "create" } else { "update" }, &f)?;
    }
    out.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| match args.iter().position(|a| a == name) {
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()),
        None => Some(default),
    };
    let (Some(count), Some(seed)) = (arg("--count", 1000), arg("--seed", 42)) else {
        eprintln!("usage: gen_events [--count N] [--seed S]   (defaults: 1000 and 42)");
        std::process::exit(2);
    };
    match run(count, seed) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("gen_events: {e}");
            std::process::exit(1);
        }
        _ => {}
    }
}
