//! `mha rejoin`: a deposed master back as a replica of the current master, if everything it
//! has is in the master's history; otherwise a refusal listing what only it has
//! (executor::rejoin, engine::rejoin). Text or JSON; the exit code from `Exit::of_rejoin`.

use std::fmt::Write;
use std::time::Duration;

use super::args::{Output, RejoinArgs};
use super::exit::Exit;
use crate::engine::rejoin::{Refusal, Verdict};
use crate::executor::rejoin::{
    self, Flashback, ManagerLink, Options, Outcome, RejoinReport, locate,
};

pub fn run(a: &RejoinArgs) -> anyhow::Result<Exit> {
    if a.flashback && !a.dry_run && !a.yes {
        eprintln!(
            "error: --flashback undoes transactions: give --dry-run to see the rows it would undo, or --yes to undo them"
        );
        return Ok(Exit::Usage);
    }
    let loaded = super::load(&a.conf)?;
    let config = loaded.config;
    let workdir = a
        .manager_workdir
        .clone()
        .unwrap_or_else(|| config.app.manager_workdir.clone());
    let global = super::global_conf(&a.conf.global_conf);
    let returning = locate(&config, &global, &workdir, &a.host, a.port)?;
    let opts = Options {
        dry_run: a.dry_run,
        flashback: match (a.flashback, a.yes) {
            (false, _) => Flashback::Off,
            (true, false) => Flashback::Preview,
            (true, true) => Flashback::Apply,
        },
        catch_up: a
            .catch_up_timeout
            .map(Duration::from_secs)
            .unwrap_or(config.app.timeouts.failover_catch_up),
        workdir,
        manager: ManagerLink::Signal,
    };
    let rep = super::runtime()?.block_on(rejoin::rejoin(&config, &returning, &opts));
    match a.output {
        Output::Text => print!("{}", render_text(&rep, a)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&rep)?),
    }
    Ok(Exit::of_rejoin(&rep))
}

fn render_text(rep: &RejoinReport, a: &RejoinArgs) -> String {
    let mut o = String::new();
    let master = rep.master.as_deref().unwrap_or("?");
    let _ = writeln!(o, "Rejoin of {} to the master {master}", rep.server);
    if let Some(f) = &rep.facts {
        let _ = writeln!(
            o,
            "  its GTIDs (gtid_binlog_state): {}; the master's: {}",
            or_none(&f.gtids.to_string()),
            or_none(&f.master_gtids.to_string())
        );
        match (&f.reached, &f.scanned_from) {
            (Some(r), _) => {
                let _ = writeln!(o, "  the failover that deposed it got its binlog up to {r}");
            }
            (None, _) => {
                let _ = writeln!(o, "  no failover record of it: the GTID check alone");
            }
        }
        if let Some(from) = &f.scanned_from {
            let _ = writeln!(
                o,
                "  its binlog read from {from}: {} transaction(s)",
                f.txns.len()
            );
        }
    }
    render_verdict(&mut o, rep, a);
    if let Some(fb) = &rep.flashback {
        for b in &fb.blockers {
            let _ = writeln!(o, "  --flashback cannot undo them: {b}");
        }
        for u in &fb.undo {
            for r in &u.rows {
                let _ = writeln!(o, "  --flashback undoes {}: {r}", u.gtid);
            }
        }
    }
    let lead = if rep.outcome == Outcome::DryRun {
        "would"
    } else {
        "done"
    };
    for (i, s) in rep.steps.iter().enumerate() {
        let _ = writeln!(o, "  {lead} {}. {s}", i + 1);
    }
    if let Some(e) = &rep.error {
        let _ = writeln!(o, "error: {e}");
    }
    let _ = writeln!(o, "{}", summary(rep, master));
    o
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

fn render_verdict(o: &mut String, rep: &RejoinReport, a: &RejoinArgs) {
    match &rep.verdict {
        Some(Verdict::Contained { start }) => {
            let _ = writeln!(
                o,
                "  contained: everything it has is in the master's history; it starts from {}",
                or_none(&start.to_string())
            );
        }
        Some(Verdict::AlreadyReplica) => {
            let _ = writeln!(o, "  it already replicates from the master");
        }
        Some(Verdict::Refused(Refusal::OnlyHere { txns })) => {
            let _ = writeln!(
                o,
                "  NOT contained: {} transaction(s) only it has:",
                txns.len()
            );
            for t in txns {
                let _ = writeln!(o, "    {t}");
            }
            if !a.flashback {
                let port = a.port.map(|p| format!(" --port {p}")).unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  To undo them: mha rejoin --conf {} --host {}{port} --flashback --dry-run shows the rows it would undo; --flashback --yes undoes them and rejoins.",
                    a.conf.conf.display(),
                    a.host
                );
            }
        }
        Some(Verdict::Refused(r)) => {
            let _ = writeln!(o, "  refused: {r}");
        }
        None => {}
    }
}

fn summary(rep: &RejoinReport, master: &str) -> String {
    match rep.outcome {
        Outcome::Rejoined => format!("Rejoined: {} replicates from {master}.", rep.server),
        Outcome::AlreadyReplica => {
            format!("{} already replicates from {master}.", rep.server)
        }
        Outcome::DryRun => "--dry-run: nothing was changed.".into(),
        Outcome::Refused => match &rep.verdict {
            Some(Verdict::Refused(r)) => {
                format!("Rejoin refused: {}: {r}. Nothing was changed.", rep.server)
            }
            _ => format!(
                "Rejoin refused: --flashback cannot undo what only {} has. Nothing was changed.",
                rep.server
            ),
        },
        Outcome::Partial => format!(
            "{} replicates from {master}, but its block is NOT in the configuration file.",
            rep.server
        ),
        Outcome::Failed => format!("Rejoin of {} failed.", rep.server),
    }
}
