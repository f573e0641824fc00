//! Generates a realistic, deterministic stream of MonProfil CRM events for `herald route`:
//! `cargo run --release --example gen_events -- --count 1000000 --seed 42`. Each line is
//! `{"event": "create"|"update", "record": {...}}`; a quarter update a contact seen before (same
//! id, full record, as CRM webhooks send it), sometimes with a corrected email, a trial turned
//! paid or an opt-out. Some records are messy on purpose: missing, null or invalid emails,
//! missing fields, integers written as decimals. The same seed always gives the same stream.

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
    /// One of the space-separated `word:weight` items, by weight (1 when omitted):
    /// `"paid:3 trial"` gives `paid` 3 times in 4.
    fn pick(&mut self, items: &'static str) -> &'static str {
        let parse = |item: &'static str| match item.rsplit_once(':') {
            Some((word, weight)) => (word, weight.parse().unwrap_or(0)),
            None => (item, 1),
        };
        let items = items.split(' ').map(parse);
        let mut roll = self.below(items.clone().map(|(_, weight)| weight).sum());
        for (word, weight) in items {
            if roll < weight {
                return word;
            }
            roll -= weight;
        }
        ""
    }
}

/// Mailing countries, weighted in percent.
const COUNTRY_MIX: &str = "FR:45 BE:8 CH:7 DE:8 ES:6 IT:5 LU:2 MC:1 AT:3 PT:3 GB:4 IE:2 US:4 CA:2";
/// Country, phone prefix, cities as `City/usual language`, local email providers.
#[rustfmt::skip]
const COUNTRIES: [(&str, &str, &str, &str); 14] = [
    ("FR", "+33", "Paris/fr Lyon/fr Marseille/fr Lille/fr Nantes/fr", "orange.fr free.fr sfr.fr"),
    ("BE", "+32", "Bruxelles/fr Liège/fr Namur/fr", "skynet.be telenet.be"),
    ("CH", "+41", "Genève/fr Lausanne/fr Zürich/de Bern/de Lugano/it", "bluewin.ch gmx.ch"),
    ("DE", "+49", "Berlin/de München/de Hamburg/de Köln/de", "gmx.de web.de t-online.de"),
    ("ES", "+34", "Madrid/es Barcelona/es Valencia/es", "telefonica.net yahoo.es"),
    ("IT", "+39", "Milano/it Roma/it Torino/it", "libero.it virgilio.it"),
    ("LU", "+352", "Luxembourg/fr Esch-sur-Alzette/fr", "pt.lu"),
    ("MC", "+377", "Monaco/fr", "monaco.mc"),
    ("AT", "+43", "Wien/de Graz/de", "gmx.at aon.at"),
    ("PT", "+351", "Lisboa/pt Porto/pt", "sapo.pt"),
    ("GB", "+44", "London/en Manchester/en", "btinternet.com"),
    ("IE", "+353", "Dublin/en Cork/en", "eircom.net"),
    ("US", "+1", "Boston/en Chicago/en", "yahoo.com"),
    ("CA", "+1", "Montréal/fr Toronto/en", "videotron.ca"),
];
/// Language, first names, last names.
#[rustfmt::skip]
const NAMES: [(&str, &str, &str); 6] = [
    ("fr", "Camille Léa Hugo Chloé Louis Inès Manon", "Martin Bernard Dubois Petit Lefèvre Moreau"),
    ("de", "Jonas Lena Lukas Anna Felix Jürgen", "Müller Schmidt Schneider Fischer Meier Keller"),
    ("es", "Lucía Hugo Martina Pablo Sofía Álvaro", "García Fernández López Martínez Pérez"),
    ("it", "Giulia Marco Francesca Luca Chiara Matteo", "Rossi Russo Ferrari Esposito Bianchi"),
    ("pt", "João Ana Tiago Beatriz Rui", "Silva Santos Ferreira Pereira Gonçalves"),
    ("en", "Oliver Emma Jack Olivia Liam Grace", "Smith Jones Taylor Brown O'Neill Walsh"),
];
/// How people type their email address, per mille: 3% missing, 2% invalid, the rest valid.
const EMAIL_KINDS: &str = "absent:15 null:10 blank:5 no-tld:5 two-at:5 space:5 no-at:5 \
                           plus:10 idn:5 capitals:10 plain:925";
const WEBMAIL: &str = "gmail.com hotmail.com outlook.com icloud.com";
const IDN_DOMAINS: &str = "société-emploi.fr münchen.de zürich.ch españa.es";
const SOURCES: &str = "Google_Ads SEO LinkedIn Facebook Referral Job_Fair School_Partner";
#[rustfmt::skip] // tags, and the percentage of contacts that carry each
const TAGS: [(&str, f64); 5] =
    [("vip", 4.0), ("beta", 4.0), ("student", 12.0), ("recruiter", 3.0), ("partner", 2.0)];
const T2025: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z: the first event
const T2026: i64 = 1_769_817_600; // 2026-01-31T00:00:00Z: the last event
const FIX_EMAIL: u8 = 1; // what updates changed on a contact so far (bit flags)
const NOW_PAID: u8 = 2;
const OPTED_OUT: u8 = 4;

/// Fields in output order (not serde_json's map order), original email valid, subscription.
type Contact = (Vec<(&'static str, Value)>, bool, &'static str);

/// Lowercase ASCII for an email local part: `Lefèvre` -> `lefevre`, `O'Neill` -> `oneill`.
fn ascii(s: &str) -> String {
    let accented = "àáâäãçéèêëíîïñóôöõúùûü".chars();
    let plain = |i| "aaaaaceeeeiiinoooouuuu".as_bytes()[i] as char;
    let fold = |c| accented.clone().position(|a| a == c).map_or(c, plain);
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

/// Record number `n` (0-based), created at `created`, with the changes updates made so far
/// (`flags`) and a `login` time. Every call draws the same random numbers for the same `n`.
fn contact(seed: u64, n: u64, created: i64, flags: u8, login: Value) -> Contact {
    let mut r = Rng(seed ^ (n + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let has = |flag| flags & flag != 0;
    let code = r.pick(COUNTRY_MIX);
    let country = COUNTRIES.iter().find(|c| c.0 == code);
    let (code, prefix, cities, isps) = *country.unwrap_or(&COUNTRIES[0]);
    let (city, lang) = r.pick(cities).split_once('/').unwrap_or(("Paris", "fr"));
    let names = NAMES.iter().find(|names| names.0 == lang);
    let (_, first_names, last_names) = *names.unwrap_or(&NAMES[0]);
    let (first, last) = (r.pick(first_names), r.pick(last_names));
    let year = r.pick(":80 85:4 91:4 78:4 2001:4 69:4"); // some add their birth year
    let local = format!("{}.{}{year}", ascii(first), ascii(last));
    let webmail = r.chance(50.0);
    let domain = r.pick(if webmail { WEBMAIL } else { isps });
    let kind = r.pick(EMAIL_KINDS);
    let email_ok = matches!(kind, "plus" | "idn" | "capitals" | "plain");
    let kind = if has(FIX_EMAIL) { "plain" } else { kind }; // corrected by an update
    let email = match kind {
        "no-tld" => format!("{local}@gmail"),
        "two-at" => format!("{}@@{domain}", ascii(first)),
        "space" => format!("{} {}@{domain}", ascii(first), ascii(last)),
        "no-at" => format!("{local}{domain}"),
        "plus" => format!("{local}+cv@{domain}"),
        "idn" => format!("{local}@{}", r.pick(IDN_DOMAINS)),
        "capitals" => format!("{local}@{domain}").to_uppercase(),
        "plain" => format!("{local}@{domain}"),
        _ => String::new(), // blank, null or absent
    };
    let email = (kind != "null").then_some(email);
    let original = r.pick("paid:60 trial:20 free:14 cancelled:6");
    let subscription = if has(NOW_PAID) { "paid" } else { original };
    let tier = r.pick("basic:2 premium business");
    let plan = match subscription {
        "paid" | "cancelled" => Some(tier),
        "trial" => Some("premium"),
        _ => None,
    };
    let language = r.pick("en:8 usual:92").replace("usual", lang); // en: expatriates
    let age = 18 + r.below(30) + r.below(20);
    let months = u64::from(matches!(original, "paid" | "cancelled")) * (1 + r.below(36));
    let value = (months as f64 * r.pick("9.9 19.9 29.9").parse().unwrap_or(0.0) * 100.0).round();
    let opted_out = r.pick("true:3 null:4 false:85 absent:8");
    let opted_out = if has(OPTED_OUT) { "true" } else { opted_out };
    let opted: Value = serde_json::from_str(opted_out).unwrap_or_default();
    let present = |word| if word == "absent" { 0.0 } else { 100.0 };
    let tags: Vec<&str> = TAGS.iter().filter(|t| r.chance(t.1)).map(|t| t.0).collect();
    let imported = T2025 - r.below(6 * 365 * 86_400) as i64; // from the old CRM
    let phone = format!("{prefix} {} {:08}", 6 + r.below(2), r.below(100_000_000));
    let (decimal, old, verified) = (r.chance(8.0), r.chance(20.0), r.chance(88.0));
    // Field, value, and the percentage of records that carry it.
    #[rustfmt::skip]
    let fields = [
        ("id", json!(format!("c{:06}", n + 1)), 100.0),
        ("Full_Name", json!(format!("{first} {last}")), 99.0),
        ("First_Name", json!(first), 100.0),
        ("Last_Name", json!(last), 100.0),
        ("Email", json!(email), present(kind)),
        ("Email_Verified", json!(has(FIX_EMAIL) || email_ok && verified), 97.0),
        ("Phone", json!(phone), 90.0),
        ("Mailing_City", json!(city), 100.0),
        ("Mailing_Country", json!(code), 99.0),
        ("Preferred_Language", json!(language), 96.0),
        ("Subscription", json!(subscription), 100.0),
        ("Plan", json!(plan), 100.0),
        ("Age", if decimal { json!(age as f64) } else { json!(age) }, 95.0), // 34, or 34.0
        ("Lifetime_Value", json!(value / 100.0), 100.0),
        ("Opted_Out", opted, present(opted_out)),
        ("Tags", json!(tags), 95.0),
        ("Signup_Date", json!(date(if old { imported } else { created })), 98.0),
        ("Lead_Source", json!(r.pick(SOURCES).replace('_', " ")), 90.0),
        ("Last_Login", login, 92.0),
    ];
    let kept = fields.into_iter().filter(|f| r.chance(f.2));
    (kept.map(|(k, v, _)| (k, v)).collect(), email_ok, original)
}

fn run(count: u64, seed: u64) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let mut ev = Rng(seed);
    let mut seen: Vec<(i64, u8, bool, &str)> = Vec::new(); // created, flags, as in Contact
    for i in 0..count {
        let now = T2025 + ((T2026 - T2025) as f64 * i as f64 / count as f64) as i64;
        let len = seen.len() as u64;
        // A quarter of the events update a known contact, mostly a recent one.
        let update = len > 0 && ev.chance(25.0);
        let back = if ev.chance(70.0) { len.min(2000) } else { len };
        let old = len.saturating_sub(1 + ev.below(back));
        let n = if update { old } else { len };
        let (created, flags, email_ok, sub) = *seen.get(n as usize).unwrap_or(&(now, 0, true, ""));
        let trial = matches!(sub, "trial" | "free") && flags & NOW_PAID == 0;
        let change = match () {
            _ if !update => 0,
            _ if !email_ok && flags & FIX_EMAIL == 0 && ev.chance(50.0) => FIX_EMAIL,
            _ if trial && ev.chance(35.0) => NOW_PAID,
            _ if ev.chance(3.0) => OPTED_OUT,
            _ => 0, // a routine edit: only Last_Login changes
        };
        let since = ev.below((now - created).min(6 * 3600) as u64) as i64; // 0 on creation
        let login = datetime(now - since, ev.chance(30.0));
        let (f, email_ok, sub) = contact(seed, n, created, flags | change, json!(login));
        seen.extend((!update).then_some((now, 0, email_ok, sub))); // a new contact
        seen[n as usize].1 |= change;
        let record: Vec<String> = f.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect();
        let (kind, record) = (if update { "update" } else { "create" }, record.join(","));
        writeln!(out, r#"{{"event":"{kind}","record":{{{record}}}}}"#)?;
    }
    out.flush()
}

fn main() -> io::Result<()> {
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
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()), // `| head` closed the pipe: fine
    }
}
