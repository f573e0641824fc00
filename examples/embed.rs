//! Embedding Herald in a host (`docs/embedding.md`): load a rule set, route events, send the
//! invitations, report a bounce back, query the log, reload the rules while other threads
//! route, keep the log in the host's own storage, and evaluate a single condition.
//!
//! `cargo run --example embed`

use herald::condition::Condition;
use herald::engine::{DeliveryFailure, Engine, EngineError};
use herald::route::{Event, Outcome};
use herald::schema::Schema;
use herald::store::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, MemoryStore, SqliteStore, Store,
    StoreError,
};
use herald::value::FixedClock;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monprofil");
    let dir = std::env::temp_dir().join(format!("herald-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // 1. Open: compile the rule set once, open the log (SQLite here), load who is invited.
    let store = SqliteStore::open(&dir.join("herald.db"))?;
    let engine = match Engine::open(&examples.join("rules"), Box::new(store)) {
        Ok(e) => e,
        Err(EngineError::Rules(loaded)) => {
            // The diagnostics say what is wrong, with file, line and column.
            eprint!(
                "{}",
                herald::diagnostics::render::human(&loaded.diagnostics, &loaded.sources, false)
            );
            return Err("the rule set has errors".into());
        }
        Err(e) => return Err(e.into()),
    };
    // Pin the clock (tests, replays); the default is the system clock.
    let engine = engine.with_clock(Box::new(FixedClock("2026-01-31T09:30:00Z".parse()?)));
    println!("rule set version {}", engine.version()?);

    // 2. Route: one event in, every portal's decision out, logged before it is returned.
    let event: Event = serde_json::from_str(
        r#"{"event": "create", "record": {"id": "c000101", "Full_Name": "Camille Martin",
            "Email": "camille.martin@orange.fr", "Subscription": "paid", "Mailing_Country": "FR",
            "Opted_Out": false, "Tags": []}}"#,
    )?;
    for d in engine.route(&event)? {
        match d.outcome {
            // The host sends the invitation: portal, language, sender group, address.
            Outcome::Invited => println!(
                "send {} invitation to {} ({}) from {:?} in {:?}",
                d.portal,
                d.email.as_deref().unwrap_or(""),
                d.record_id,
                d.sender_group,
                d.language
            ),
            Outcome::Failed => println!(
                "cannot invite {} to {}: {:?}",
                d.record_id, d.portal, d.message
            ),
            Outcome::Skipped => {
                println!("{}: skipped ({:?})", d.portal, d.reason.map(|r| r.as_str()))
            }
        }
    }

    // The same record again: already invited, nothing is sent twice (also after a restart).
    let again = engine.route(&event)?;
    assert!(again.iter().all(|d| d.outcome != Outcome::Invited));

    // 3. The mail bounced: report it. It enters the failure log, and the record is no longer
    //    counted as invited, so its next update (say, a corrected address) is invited again.
    engine.report_delivery_failure("MonProfil Clients", "c000101", DeliveryFailure::Bounce)?;
    let failures = engine.failures(&FailureQuery {
        portal: Some("MonProfil Clients".into()),
        ..FailureQuery::default()
    })?;
    println!(
        "{} failure(s), newest: {} {}",
        failures.len(),
        failures[0].record_id,
        failures[0].reason
    );
    let active = engine.invitations(&InvitationQuery {
        record_id: Some("c000101".into()),
        ..Default::default()
    })?;
    assert!(active.is_empty());

    // 4. Many events at once: one rule set snapshot and one log transaction. An event that
    //    cannot be routed gets its error in place.
    let batch: Vec<Event> = std::fs::read_to_string(examples.join("events.jsonl"))?
        .lines()
        .take(100)
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let results = engine.route_batch(&batch)?;
    let invited = results
        .iter()
        .flatten()
        .flatten()
        .filter(|d| d.outcome == Outcome::Invited)
        .count();
    println!("batch of {}: {invited} invitation(s)", batch.len());

    // 5. Threads: `Engine` is `Send + Sync`. Route from many threads while another reloads
    //    the rule set; each event is routed entirely by the old or the new version.
    let engine = Arc::new(engine);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || -> Result<(), EngineError> {
                let record = serde_json::json!({"id": format!("t{t}"), "Full_Name": "T",
                    "Email": format!("t{t}@example.fr"), "Subscription": "paid", "Mailing_Country": "DE"});
                engine.route(&Event { kind: herald::event::EventKind::Update, record })?;
                Ok(())
            })
        })
        .collect();
    // `reload()` re-reads the path given to `open`; a rule set with errors is refused and the
    // old one keeps running.
    let version = engine.reload()?;
    for h in handles {
        h.join().map_err(|_| "a routing thread panicked")??;
    }
    println!("reloaded: version {version}");

    // 6. Rules kept elsewhere than on disk: check the texts, then swap them in.
    let loaded = herald::load::check_texts(
        vec![(
            "db://rules/portals".to_string(),
            r#"portal "Newsletter" {
                 identity id, Full_Name, Email
                 require Subscription in ["paid", "trial"]
                 invite "fr"
               }"#
            .to_string(),
            None,
        )],
        &mut |_from: &str, rel: &str| Err(format!("no schema files here ({rel})")),
    );
    let set = loaded.rule_set.ok_or("the rule texts have errors")?;
    engine.reload_from(set)?;

    // 7. The log in the host's own database: implement `Store`.
    let host = HostLog::default();
    let outbox = Arc::clone(&host.outbox);
    let engine = Engine::new(
        herald::load::load(&examples.join("rules"))?
            .rule_set
            .ok_or("errors")?,
        Box::new(host),
    )?;
    engine.route(&event)?;
    println!(
        "the host's outbox holds {} invitation(s)",
        outbox.lock().map_err(|_| "poisoned")?.len()
    );

    // 8. One condition on its own, checked against a schema loaded from CRM field metadata.
    let schema = Schema::from_field_metadata(
        "Contacts",
        &std::fs::read_to_string(examples.join("schema/contacts.fields.json"))?,
    )?;
    let cond = Condition::compile(
        r#"Subscription == "paid" and Mailing_Country in ["FR", "BE"]"#,
        Some(&schema),
    )
    .map_err(|e| e.render())?;
    let clock = FixedClock("2026-01-31T09:30:00Z".parse()?);
    println!("matches: {}", cond.matches(&event.record, &clock));
    // A typo is a compile error with a did-you-mean.
    if let Err(e) = Condition::compile(r#"Subscripton == "paid""#, Some(&schema)) {
        println!("{e}");
    }

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A log kept in the host's storage. Here the host's "database" is a `MemoryStore` plus an
/// outbox of invitations to send; a real host would write rows in its own transaction.
#[derive(Default)]
struct HostLog {
    rows: MemoryStore,
    outbox: Arc<Mutex<Vec<Invitation>>>,
}

impl Store for HostLog {
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        self.rows.invited_keys()
    }

    /// All entries or none, durable when it returns `Ok`.
    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        self.rows.append(entries)?;
        let mut outbox = self.outbox.lock().map_err(|_| StoreError::Corrupt {
            path: "host".into(),
            detail: "outbox lock poisoned".into(),
        })?;
        for e in entries {
            if let LogEntry::Invited(i) = e {
                outbox.push(i.clone());
            }
        }
        Ok(())
    }

    fn failures(&mut self, query: &FailureQuery) -> Result<Vec<Failure>, StoreError> {
        self.rows.failures(query)
    }

    fn invitations(&mut self, query: &InvitationQuery) -> Result<Vec<Invitation>, StoreError> {
        self.rows.invitations(query)
    }
}
