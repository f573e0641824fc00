//! `herald test`: runs the rule authors' `test` blocks, each against a fresh in-memory log.

use crate::cli::out;
use herald::diagnostics::render;
use herald::engine::Engine;
use herald::route::{Event, Outcome};
use herald::rules::Expected;
use herald::store::MemoryStore;
use herald::value::{FixedClock, SystemClock};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Runs every test under `paths`; returns the exit code.
pub fn run(paths: &[PathBuf]) -> u8 {
    let sets = match herald::load::discover(paths) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for files in &sets {
        let loaded = herald::load::load_files(files);
        let Some(set) = loaded.rule_set.clone() else {
            crate::report_rules(&loaded);
            broken += 1;
            continue;
        };
        for test in &set.tests {
            let clock: Box<dyn herald::value::Clock> = match test.now {
                Some(t) => Box::new(FixedClock(t)),
                None => Box::new(SystemClock),
            };
            let now = clock.now();
            let engine = match Engine::new(set.clone(), Box::new(MemoryStore::new())) {
                Ok(e) => e.with_clock(clock),
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let event = Event {
                kind: test.event,
                record: test.record.clone(),
            };
            let place = set
                .sources
                .get(test.source)
                .map(|f| format!("{}:{}", f.name, f.line_col(test.span.start).line))
                .unwrap_or_default();
            let decisions = match engine.route(&event) {
                Ok(d) => d,
                Err(e) => {
                    failed += 1;
                    out(&format!(
                        "FAIL {} ({place})\n  the record cannot be routed: {e}\n",
                        test.name
                    ));
                    continue;
                }
            };
            let mut problems = Vec::new();
            for exp in &test.expectations {
                let Some(d) = decisions.iter().find(|d| d.portal == exp.portal) else {
                    continue;
                };
                let ok = match &exp.expected {
                    Expected::Invites(lang) => {
                        d.outcome == Outcome::Invited
                            && d.language.as_deref() == Some(lang.as_str())
                    }
                    Expected::DoesNotInvite(reason) => {
                        d.outcome == Outcome::Skipped
                            && reason
                                .as_deref()
                                .is_none_or(|r| Some(r) == d.reason.map(|x| x.as_str()))
                    }
                    Expected::Fails(reason) => {
                        d.outcome == Outcome::Failed
                            && d.reason.map(|x| x.as_str()) == Some(reason.as_str())
                    }
                };
                if !ok {
                    let expected = match &exp.expected {
                        Expected::Invites(l) => format!("invites \"{l}\""),
                        Expected::DoesNotInvite(None) => String::from("does not invite"),
                        Expected::DoesNotInvite(Some(r)) => format!("does not invite because {r}"),
                        Expected::Fails(r) => format!("fails {r}"),
                    };
                    let actual = match (d.outcome, &d.language, d.reason) {
                        (Outcome::Invited, Some(l), _) => format!("invites \"{l}\""),
                        (Outcome::Skipped, _, Some(r)) => {
                            format!("does not invite because {}", r.as_str())
                        }
                        (Outcome::Failed, _, Some(r)) => format!("fails {}", r.as_str()),
                        _ => String::from("(no decision)"),
                    };
                    let line = set
                        .sources
                        .get(test.source)
                        .map(|f| f.line_col(exp.span.start).line)
                        .unwrap_or(0);
                    let explained = herald::explain::explain_event(&set, &event, now);
                    let mut tree = String::new();
                    if let Some(p) = explained.iter().find(|p| p.portal == exp.portal) {
                        herald::explain::render_portal(p, &mut tree);
                    }
                    problems.push(format!(
                        "  line {line}: expect \"{}\" {expected}\n    actual: {actual}\n{}",
                        exp.portal,
                        tree.lines()
                            .map(|l| format!("    {l}\n"))
                            .collect::<String>()
                    ));
                }
            }
            if problems.is_empty() {
                passed += 1;
            } else {
                failed += 1;
                out(&format!("FAIL {} ({place})\n", test.name));
                for p in problems {
                    out(&p);
                }
            }
        }
        if std::io::stdout().is_terminal() && !loaded.diagnostics.is_empty() {
            eprint!(
                "{}",
                render::human(&loaded.diagnostics, &loaded.sources, true)
            );
        }
    }
    if broken > 0 {
        out(&format!(
            "{broken} rule set{} with errors; their tests did not run\n",
            if broken == 1 { "" } else { "s" }
        ));
    }
    out(&format!("{passed} passed, {failed} failed\n"));
    if failed > 0 || broken > 0 { 1 } else { 0 }
}
