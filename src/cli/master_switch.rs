//! `mha master_switch`: `--master_state=dead` runs the failover engine by hand,
//! `--master_state=alive` the online switchover.

use std::fmt::Write;
use std::io::BufRead;

use anyhow::Context;

use super::args::{FailoverArgs, MasterState, MasterSwitchArgs, Output};
use super::exit::Exit;
use super::switch_lead;
use crate::config::Config;
use crate::executor::failover::{FailoverOptions, FailoverRecord, Outcome};
use crate::executor::monitor::shared;
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
        fence: None,
    }
}

fn confirm(question: &str) -> bool {
    eprint!("{question} (yes/NO): ");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().eq_ignore_ascii_case("yes")
}

/// MHA's `(YES/no)` question: anything but an answer starting with `n` is yes.
fn confirm_default_yes(question: &str) -> bool {
    eprint!("{question} (YES/no): ");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    !line.trim().to_ascii_lowercase().starts_with('n')
}

/// `--ssh_reachable` is how MHA's masterha_manager handed its monitor's SSH finding to the
/// failover; mha's failover checks the dead master's SSH itself, so only 2 ("check") means
/// what it says.
pub fn refuse_ssh_reachable(a: &FailoverArgs) -> Result<(), super::UsageError> {
    match a.ssh_reachable {
        Some(v @ (0 | 1)) => Err(super::UsageError(format!(
            "--ssh_reachable={v}: mha checks the dead master's SSH itself and cannot be told \
             the answer; leave the option out (or give 2), and use --skip_save_master_binlog \
             not to read the dead master's binlog"
        ))),
        _ => Ok(()),
    }
}

/// MHA sent the log of a manual failover to --manager_log, or with --interactive=0 to the
/// configuration's manager_log; an interactive failover logs to the screen.
fn log_file<'a>(a: &'a MasterSwitchArgs, config: &'a Config) -> Option<&'a std::path::Path> {
    a.manager_log.as_deref().or(if a.interactive == 0 {
        config.app.manager_log.as_deref()
    } else {
        None
    })
}

pub fn run(a: &MasterSwitchArgs) -> anyhow::Result<Exit> {
    refuse_ssh_reachable(&a.failover)?;
    if a.master_state == MasterState::Alive {
        refuse_failover_options(a)?;
    }
    let loaded = super::load(&a.conf)?;
    let config = loaded.config;
    if let Some(log) = log_file(a, &config) {
        super::logging::log_to_file(log)
            .with_context(|| format!("cannot open the log {}", log.display()))?;
    }
    let rt = super::runtime()?;
    if a.master_state == MasterState::Alive {
        return switch_alive(a, &config, &rt);
    }
    switch_dead(a, &config, &rt)
}

/// `--dead_master_host` (with `--dead_master_ip`, `--dead_master_port`) in the configuration.
fn dead_master<'a>(
    a: &MasterSwitchArgs,
    config: &'a Config,
) -> anyhow::Result<&'a crate::config::ServerConfig> {
    let host = a
        .dead_master_host
        .clone()
        .expect("clap requires --dead_master_host");
    config
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
        })
}

/// The manual failover (`--master_state=dead`).
fn switch_dead(
    a: &MasterSwitchArgs,
    config: &Config,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Exit> {
    let dead = dead_master(a, config)?;
    let mut opts = failover_options(config, &a.failover, a.manager_workdir.clone());
    opts.dead_master = Some((dead.ip.clone(), dead.port));
    // MHA's masterha_master_switch --master_state=dead ignored --check_only and failed over;
    // mha takes it at its word: the checks and the plan, nothing changed.
    opts.dry_run |= a.check_only;
    let lead = match switch_lead::take(rt, config, opts.dry_run) {
        Ok(lead) => lead,
        Err(refusal) => {
            let record = FailoverRecord {
                outcome: Outcome::Refused,
                error: Some(refusal.to_string()),
                dead_master: Some(dead.display_name()),
                ..FailoverRecord::new(
                    &config.app_name,
                    crate::telemetry::unix(std::time::SystemTime::now()),
                )
            };
            return print_failover(a, &record);
        }
    };
    opts.fence = lead.fence();
    if a.interactive == 1
        && !opts.dry_run
        && !confirm(&format!("Master {} is dead. Proceed?", dead.display_name()))
    {
        eprintln!("Not failing over (answer was not yes).");
        return Ok(Exit::Failure);
    }
    let mut status = (!opts.dry_run)
        .then(|| ManualStatus::begin(&opts.workdir, &config.app_name, &dead.hostname))
        .flatten();
    let dead_name = dead.display_name();
    let record = rt.block_on(shared::manual_failover(config, &opts, &dead_name));
    drop(lead);
    let exit = print_failover(a, &record)?;
    if let Some(status) = status.as_mut() {
        let wait = (a.interactive == 0).then_some(a.failover.wait_on_failover_error);
        status.end(exit == Exit::Ok, wait);
    }
    Ok(exit)
}

/// The failover's report as asked (text or JSON); its exit code.
fn print_failover(a: &MasterSwitchArgs, record: &FailoverRecord) -> anyhow::Result<Exit> {
    match a.output {
        Output::Text => print!("{}", render(record)),
        Output::Json => println!("{}", serde_json::to_string_pretty(record)?),
    }
    Ok(Exit::of_failover(record.outcome))
}

/// The status file of a manual failover, as MHA's MasterFailover wrote it, so check_status
/// (and Nagios) see it: FAILOVER_RUNNING while it runs; removed after a success; after a
/// failure (any exit but 0, a partial one too) FAILOVER_ERROR, kept --wait_on_failover_error
/// seconds when not interactive, then removed. Not written while a manager runs for the
/// application (the file is the manager's): the manager lock is held instead, so none starts
/// meanwhile.
struct ManualStatus {
    file: crate::status::StatusFile,
    master: String,
    _lock: crate::status::ManagerLock,
}

impl ManualStatus {
    fn begin(workdir: &std::path::Path, app: &str, master: &str) -> Option<ManualStatus> {
        let _ = std::fs::create_dir_all(workdir);
        let lock = match crate::status::ManagerLock::acquire(workdir, app) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("the status file is left to the manager: {e}");
                return None;
            }
        };
        let mut file = crate::status::StatusFile::new(workdir, app);
        if let Err(e) = file.set(crate::status::Status::FailoverRunning, Some(master)) {
            tracing::warn!("cannot write {}: {e}", file.path().display());
        }
        Some(ManualStatus {
            file,
            master: master.to_string(),
            _lock: lock,
        })
    }

    fn end(&mut self, ok: bool, wait_on_failover_error: Option<u64>) {
        if !ok {
            let _ = self
                .file
                .set(crate::status::Status::FailoverError, Some(&self.master));
            if let Some(secs) = wait_on_failover_error.filter(|s| *s > 0) {
                tracing::info!("Waiting for {secs} seconds for error exit..");
                std::thread::sleep(std::time::Duration::from_secs(secs));
            }
        }
        self.file.remove();
    }
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

/// Failover options given to an online switch: MHA's MasterRotate refused them
/// (`Unknown options:`); so does mha, naming them, rather than ignore them.
fn refuse_failover_options(a: &MasterSwitchArgs) -> Result<(), super::UsageError> {
    let f = &a.failover;
    let given: Vec<&str> = [
        (a.dead_master_host.is_some(), "--dead_master_host"),
        (a.dead_master_ip.is_some(), "--dead_master_ip"),
        (a.dead_master_port.is_some(), "--dead_master_port"),
        (f.ignore_last_failover, "--ignore_last_failover"),
        (f.last_failover_minute != 480, "--last_failover_minute"),
        (f.wait_on_failover_error != 0, "--wait_on_failover_error"),
        (f.ignore_binlog_server_error, "--ignore_binlog_server_error"),
        (f.ignore_binlog_save_error, "--ignore_binlog_save_error"),
        (f.skip_save_master_binlog, "--skip_save_master_binlog"),
        (f.skip_change_master, "--skip_change_master"),
        (f.skip_disable_read_only, "--skip_disable_read_only"),
        (f.wait_until_gtid_in_sync != 1, "--wait_until_gtid_in_sync"),
        (f.ssh_reachable.is_some(), "--ssh_reachable"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(super::UsageError(format!(
        "{} only apply to a failover (--master_state=dead); leave them out of an online switch",
        given.join(", ")
    )))
}

fn switch_alive(
    a: &MasterSwitchArgs,
    config: &Config,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Exit> {
    use crate::executor::switchover::{self, SwitchOptions};
    // MHA's --check_only: phase 1's checks, nothing changed (exit 0 when they pass).
    let dry_run = a.failover.dry_run || a.check_only;
    let mut opts = SwitchOptions {
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
        flush_tables: a.flush_tables != 0,
        dry_run,
        workdir: a
            .manager_workdir
            .clone()
            .unwrap_or_else(|| config.app.manager_workdir.clone()),
        fence: None,
    };
    let lead = match switch_lead::take(rt, config, opts.dry_run) {
        Ok(lead) => lead,
        Err(refusal) => {
            let rec = SwitchRecord {
                error: Some(refusal.to_string()),
                ..SwitchRecord::new(&config.app_name)
            };
            return print_switch(a, &rec);
        }
    };
    opts.fence = lead.fence();
    if a.interactive == 1 && !opts.dry_run {
        if !confirm("Starting master switch. Proceed?") {
            eprintln!("Not switching (answer was not yes).");
            return Ok(Exit::Failure);
        }
        // MHA's default --flush_tables=2 asks.
        if a.flush_tables == 2 {
            opts.flush_tables = confirm_default_yes(
                "It is better to execute FLUSH NO_WRITE_TO_BINLOG TABLES on the master before switching. Is it ok to execute?",
            );
        }
    }
    let _ = std::fs::create_dir_all(&opts.workdir);
    let rec = rt.block_on(switchover::switchover(config, &opts));
    drop(lead);
    let exit = print_switch(a, &rec)?;
    if rec.outcome == SwitchOutcome::Success
        && a.failover.remove_dead_master_conf
        && !a.orig_master_is_new_slave
    {
        remove_orig_master_conf(config, rec.orig_master.as_deref());
    }
    Ok(exit)
}

/// The switch's report as asked (text or JSON); its exit code.
fn print_switch(a: &MasterSwitchArgs, rec: &SwitchRecord) -> anyhow::Result<Exit> {
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(rec)?),
        Output::Text => print!("{}", render_switch(rec)),
    }
    Ok(Exit::of_switch(rec.outcome))
}

/// MHA's --remove_orig_master_conf: after a complete switch (and only when the old master did
/// not become a replica), its block leaves the configuration file.
fn remove_orig_master_conf(config: &Config, orig: Option<&str>) {
    let Some(s) = config
        .servers
        .iter()
        .find(|s| Some(s.display_name().as_str()) == orig)
    else {
        tracing::warn!("--remove_orig_master_conf: the old master is not in the configuration");
        return;
    };
    match crate::config::write::delete_server_block(&config.path, &s.block) {
        Ok(true) => tracing::info!(
            "Deleted [{}] entry from {} .",
            s.block,
            config.path.display()
        ),
        Ok(false) => tracing::warn!(
            "Entry [{}] not found in {} .",
            s.block,
            config.path.display()
        ),
        Err(e) => {
            tracing::error!("could not remove the old master from the configuration: {e}")
        }
    }
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
            outcome,
            orig_master: Some("db1(10.0.0.1:3306)".into()),
            new_master: Some("db2(10.0.0.2:3306)".into()),
            ..SwitchRecord::new("app1")
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
