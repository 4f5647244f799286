//! `mha master_switch`: `--master_state=dead` runs the failover engine by hand,
//! `--master_state=alive` the online switchover.

use std::fmt::Write;
use std::io::BufRead;

use super::args::{FailoverArgs, MasterState, MasterSwitchArgs, Output};
use super::exit::Exit;
use crate::config::Config;
use crate::executor::failover::{self, FailoverOptions, FailoverRecord, Outcome};
use crate::executor::switchover::{Role, SwitchOutcome, SwitchPlan, SwitchRecord};

/// The failover options shared by the manager and master_switch.
pub fn failover_options(
    config: &Config,
    a: &FailoverArgs,
    workdir: Option<std::path::PathBuf>,
) -> FailoverOptions {
    FailoverOptions {
        dead_master: None,
        new_master: a.new_master_host.clone().map(|h| (h, a.new_master_port)),
        ignore_last_failover: a.ignore_last_failover,
        last_failover_minute: a.last_failover_minute,
        remove_dead_master_conf: a.remove_dead_master_conf,
        ignore_binlog_server_error: a.ignore_binlog_server_error,
        skip_save_master_binlog: a.skip_save_master_binlog,
        skip_change_master: a.skip_change_master,
        skip_disable_read_only: a.skip_disable_read_only,
        wait_until_gtid_in_sync: a.wait_until_gtid_in_sync == 1,
        dry_run: a.dry_run,
        workdir: workdir.unwrap_or_else(|| config.app.manager_workdir.clone()),
        master_may_answer: false,
        detected: None,
        dead_master_block: None,
        ignore_binlog_save_error: a.ignore_binlog_save_error,
    }
}

fn confirm(question: &str) -> bool {
    eprint!("{question} (yes/NO): ");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().eq_ignore_ascii_case("yes")
}

pub fn run(a: &MasterSwitchArgs) -> anyhow::Result<Exit> {
    let loaded = super::load(&a.conf)?;
    let config = loaded.config;
    if a.master_state == MasterState::Alive {
        return switch_alive(a, &config);
    }
    let host = a
        .dead_master_host
        .clone()
        .expect("clap requires --dead_master_host");
    let dead = config
        .servers
        .iter()
        .find(|s| {
            (s.hostname == host
                || s.ip == host
                || a.dead_master_ip.as_deref() == Some(s.ip.as_str()))
                && a.dead_master_port.is_none_or(|p| p == s.port)
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "dead master {host}{} is not in {}",
                a.dead_master_port
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default(),
                config.path.display()
            )
        })?;
    let mut opts = failover_options(&config, &a.failover, None);
    opts.dead_master = Some((dead.ip.clone(), dead.port));
    if a.interactive == 1
        && !opts.dry_run
        && !confirm(&format!("Master {} is dead. Proceed?", dead.display_name()))
    {
        eprintln!("Not failing over (answer was not yes).");
        return Ok(Exit::Failure);
    }
    let record = super::runtime()?.block_on(failover::failover(&config, &opts));
    match a.output {
        Output::Text => print!("{}", render(&record)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&record)?),
    }
    Ok(Exit::of_failover(record.outcome))
}

pub fn render(r: &FailoverRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "----- Failover {} -----",
        if r.outcome == Outcome::DryRun {
            "Plan (dry run: nothing was changed)"
        } else {
            "Report"
        }
    );
    let _ = writeln!(out, "{}", r.subject());
    if let Some(m) = r.mode {
        let _ = writeln!(
            out,
            "mode: {}",
            if m == crate::engine::plan::Mode::Gtid {
                "GTID"
            } else {
                "file/position"
            }
        );
    }
    if let Some(ranking) = &r.ranking {
        let _ = writeln!(out, "\nNew master ranking:");
        out.push_str(&super::check_repl::render_ranking(ranking));
    }
    if !r.plan.is_empty() {
        let _ = writeln!(out, "\nSteps:");
        for p in &r.plan {
            let _ = writeln!(out, "  {p}");
        }
    }
    for h in &r.hooks {
        let args: Vec<String> = h.args.iter().map(|(k, v)| format!("--{k}={v}")).collect();
        let _ = writeln!(out, "  hook: {} {}", h.hook, args.join(" "));
    }
    if !r.phases.is_empty() {
        let _ = writeln!(out, "\nPhases:");
        for p in &r.phases {
            let _ = writeln!(
                out,
                "  Phase {:<4} {:<28} {:>6} ms {}",
                p.phase,
                p.name,
                p.ms,
                if p.ok { "ok" } else { "FAILED" }
            );
            for n in &p.notes {
                let _ = writeln!(out, "      {n}");
            }
        }
    }
    for rec in &r.recovered {
        let _ = writeln!(out, "Recovered from {}: {}", rec.from, rec.gtids);
    }
    for n in &r.not_recovered {
        let _ = writeln!(out, "NOT recovered: {n}");
    }
    for x in &r.replicas {
        let _ = writeln!(
            out,
            "{}: {}: {}",
            x.server,
            if x.ok { "OK" } else { "FAILED" },
            x.detail
        );
    }
    if let Some(s) = &r.semi_sync {
        let _ = writeln!(out, "{}", s.line);
        if r.outcome == Outcome::DryRun {
            let _ = writeln!(out, "Semi-sync: {}", s.keep);
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "Error: {e}");
    }
    let new = r.new_master.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{}",
        match r.outcome {
            Outcome::Success => format!(
                "Master failover to {new} completed successfully. ({} ms)",
                r.total_ms
            ),
            Outcome::Partial => format!(
                "Master failover to {new} done, but recovery on slave partially failed. ({} ms)",
                r.total_ms
            ),
            Outcome::DataNotRecovered => format!(
                "Master failover to {new} done, but data was NOT recovered (listed above). ({} ms)",
                r.total_ms
            ),
            Outcome::StoppedBeforePromotion => {
                "Master failover stopped before promotion: nothing was promoted; the replicas' IO threads stay stopped.".to_string()
            }
            Outcome::DryRun => "Dry run: nothing was changed.".to_string(),
            Outcome::Refused => "Failover refused: nothing was changed.".to_string(),
            Outcome::Failed => "Master failover failed.".to_string(),
        }
    );
    out
}

fn switch_alive(a: &MasterSwitchArgs, config: &Config) -> anyhow::Result<Exit> {
    use crate::executor::switchover::{self, SwitchOptions};
    let opts = SwitchOptions {
        new_master: a
            .failover
            .new_master_host
            .clone()
            .map(|h| (h, a.failover.new_master_port)),
        orig_master_is_new_slave: a.orig_master_is_new_slave,
        running_updates_limit: a.running_updates_limit,
        running_seconds_limit: a.running_seconds_limit,
        seconds_behind_master: a.seconds_behind_master,
        skip_lock_all_tables: a.skip_lock_all_tables,
        // MHA's --check_only: run the checks, change nothing.
        dry_run: a.failover.dry_run || a.check_only,
        workdir: config.app.manager_workdir.clone(),
    };
    if a.interactive == 1 && !opts.dry_run && !confirm("Starting master switch. Proceed?") {
        eprintln!("Not switching (answer was not yes).");
        return Ok(Exit::Failure);
    }
    let _ = std::fs::create_dir_all(&opts.workdir);
    let rec = super::runtime()?.block_on(switchover::switchover(config, &opts));
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&rec)?),
        Output::Text => print!("{}", render_switch(&rec)),
    }
    Ok(Exit::of_switch(rec.outcome))
}

/// The switchover's outcome as an exit code (docs/exit-codes.md, docs/switchover.md).
/// The switch record as text: the plan of a dry run, or the steps taken, the replicas, the
/// phases with their timings, the write block and the error; the last line says how it ended.
pub fn render_switch(rec: &SwitchRecord) -> String {
    let mut out = String::new();
    match &rec.plan {
        Some(plan) => render_switch_plan(&mut out, plan),
        None => {
            for s in &rec.steps {
                let _ = writeln!(out, "{s}");
            }
        }
    }
    for (name, ok, detail) in &rec.replicas {
        let _ = writeln!(
            out,
            "{name}: {}: {detail}",
            if *ok { "OK" } else { "FAILED" }
        );
    }
    if !rec.phases.is_empty() {
        let _ = writeln!(out, "Phases:");
        for p in &rec.phases {
            let _ = writeln!(
                out,
                "  Phase {:<8} {:<24} {:>6} ms {}",
                p.phase,
                p.name,
                p.ms,
                if p.ok { "ok" } else { "FAILED" }
            );
        }
    }
    if let Some(ms) = rec.write_block_ms {
        let _ = writeln!(out, "Writes were blocked for {ms} ms.");
    }
    if let Some(e) = &rec.error {
        let _ = writeln!(out, "Error: {e}");
    }
    let new = rec.new_master.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "{}",
        match rec.outcome {
            SwitchOutcome::Success => format!("Switching master to {new} completed successfully."),
            SwitchOutcome::Partial => {
                format!("Switching master to {new} done, but switching slaves partially failed.")
            }
            SwitchOutcome::Refused => "Switch refused: nothing was changed.".to_string(),
            SwitchOutcome::RolledBack => format!(
                "Switch failed and was rolled back: {} takes writes again, replicas replicate from it.",
                rec.orig_master.clone().unwrap_or_default()
            ),
            SwitchOutcome::Failed => {
                "Switch failed and could not be fully rolled back: see the errors above."
                    .to_string()
            }
            SwitchOutcome::DryRun => {
                format!("Dry run: {new} would become the master; nothing was changed.")
            }
        }
    );
    out
}

/// `--dry-run`: the checks, the ranking and the choice, the steps, each server, the hooks.
fn render_switch_plan(out: &mut String, plan: &SwitchPlan) {
    let _ = writeln!(
        out,
        "----- Switch Plan (dry run: nothing was changed) -----"
    );
    let _ = writeln!(
        out,
        "Switch the master from {} to {} ({} replication)",
        plan.orig_master,
        plan.new_master,
        if plan.mode == "gtid" {
            "GTID"
        } else {
            "file/position"
        }
    );
    let _ = writeln!(out, "\nChecks passed:");
    for c in &plan.checks {
        let _ = writeln!(out, "  {c}");
    }
    let _ = writeln!(out, "\nNew master ranking:");
    out.push_str(&super::check_repl::render_ranking(&plan.ranking));
    let _ = writeln!(out, "\nSteps:");
    for s in &plan.steps {
        let _ = writeln!(out, "  {s}");
    }
    let _ = writeln!(out, "\nServers:");
    for s in &plan.servers {
        let role = match s.role {
            Role::CurrentMaster => "current master",
            Role::NewMaster => "new master",
            Role::Replica => "replica",
        };
        let _ = writeln!(out, "  {} ({role}):", s.server);
        for a in &s.actions {
            let _ = writeln!(out, "    - {a}");
        }
    }
    let _ = writeln!(out, "\nHooks:");
    if plan.hooks.is_empty() {
        let _ = writeln!(
            out,
            "  none: master_ip_online_change_script is not set (the service address is not moved)"
        );
    }
    for h in &plan.hooks {
        let _ = writeln!(out, "  Phase {}: {}", h.phase, h.command_line);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> FailoverRecord {
        FailoverRecord {
            outcome,
            dead_master: Some("db1".into()),
            new_master: Some("db2".into()),
            ..FailoverRecord::new("app1", 1700000000)
        }
    }

    /// The codes documented in docs/exit-codes.md, and the status file's word for each.
    #[test]
    fn every_failover_outcome_has_its_documented_exit_code() {
        use crate::status::FailoverResult as R;
        for (outcome, code, json, status) in [
            (Outcome::Success, 0, "success", Some(R::Complete)),
            (Outcome::DryRun, 0, "dry_run", None),
            (Outcome::Partial, 10, "partial", Some(R::Partial)),
            (
                Outcome::DataNotRecovered,
                11,
                "data_not_recovered",
                Some(R::DataNotRecovered),
            ),
            (
                Outcome::StoppedBeforePromotion,
                12,
                "stopped_before_promotion",
                Some(R::StoppedBeforePromotion),
            ),
            (Outcome::Failed, 1, "failed", Some(R::Failed)),
            (Outcome::Refused, 1, "refused", None),
        ] {
            let r = record(outcome);
            assert_eq!(Exit::of_failover(outcome).code(), code, "{outcome:?}");
            assert_eq!(serde_json::to_value(outcome).unwrap(), json);
            assert_eq!(r.last_failover().map(|l| l.result), status, "{outcome:?}");
            let text = render(&r);
            match outcome {
                Outcome::DataNotRecovered => assert!(text.contains("data was NOT recovered")),
                Outcome::StoppedBeforePromotion => {
                    assert!(text.contains("stopped before promotion: nothing was promoted"))
                }
                _ => {}
            }
        }
    }
    fn switch_record(outcome: SwitchOutcome) -> SwitchRecord {
        SwitchRecord {
            app: "app1".into(),
            outcome,
            orig_master: Some("db1(10.0.0.1:3306)".into()),
            new_master: Some("db2(10.0.0.2:3306)".into()),
            error: None,
            steps: vec![],
            replicas: vec![],
            write_block_ms: None,
            phases: vec![],
            plan: None,
            semi_sync: None,
            total_ms: 0,
        }
    }

    /// The codes and last lines in docs/switchover.md and docs/exit-codes.md.
    #[test]
    fn every_switch_outcome_has_its_documented_exit_code_and_last_line() {
        for (outcome, code, json, last) in [
            (
                SwitchOutcome::Success,
                0,
                "success",
                "Switching master to db2(10.0.0.2:3306) completed successfully.",
            ),
            (
                SwitchOutcome::DryRun,
                0,
                "dry_run",
                "Dry run: db2(10.0.0.2:3306) would become the master; nothing was changed.",
            ),
            (
                SwitchOutcome::Partial,
                10,
                "partial",
                "Switching master to db2(10.0.0.2:3306) done, but switching slaves partially failed.",
            ),
            (
                SwitchOutcome::Refused,
                1,
                "refused",
                "Switch refused: nothing was changed.",
            ),
            (
                SwitchOutcome::RolledBack,
                1,
                "rolled_back",
                "Switch failed and was rolled back: db1(10.0.0.1:3306) takes writes again, replicas replicate from it.",
            ),
            (
                SwitchOutcome::Failed,
                1,
                "failed",
                "Switch failed and could not be fully rolled back: see the errors above.",
            ),
        ] {
            assert_eq!(Exit::of_switch(outcome).code(), code, "{outcome:?}");
            assert_eq!(serde_json::to_value(outcome).unwrap(), json);
            let text = render_switch(&switch_record(outcome));
            assert_eq!(text.lines().last(), Some(last), "{text}");
        }
    }

    #[test]
    fn a_switch_report_lists_steps_replicas_phases_and_the_write_block() {
        let mut r = switch_record(SwitchOutcome::Partial);
        r.steps = vec!["writes blocked on db1(10.0.0.1:3306) at bin.000002:400 (0-1-9)".into()];
        r.replicas = vec![
            (
                "db3(10.0.0.3:3306)".into(),
                true,
                "replicating from db2(10.0.0.2:3306)".into(),
            ),
            (
                "db1(10.0.0.1:3306)".into(),
                false,
                "connection refused".into(),
            ),
        ];
        r.phases = vec![crate::executor::failover::PhaseRecord {
            phase: "5",
            name: "New master cleanup",
            ms: 42,
            ok: false,
            notes: vec![],
        }];
        r.write_block_ms = Some(17);
        let text = render_switch(&r);
        for line in [
            "writes blocked on db1(10.0.0.1:3306) at bin.000002:400 (0-1-9)",
            "db3(10.0.0.3:3306): OK: replicating from db2(10.0.0.2:3306)",
            "db1(10.0.0.1:3306): FAILED: connection refused",
            "  Phase 5        New master cleanup           42 ms FAILED",
            "Writes were blocked for 17 ms.",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
    }
}
