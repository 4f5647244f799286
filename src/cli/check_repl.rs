//! `mha check_repl`: the report in MHA's shape, ending in MHA's verdict line.

use std::fmt::Write;

use crate::engine::checks::MasterView;
use crate::engine::elect::Verdict;
use crate::executor::check_repl::ReplReport;
use crate::topology::{Observed, SemiSync};

pub const OK: &str = "MySQL Replication Health is OK.";

/// `check_repl` (also `manager --check_only --check_repl_health`, as MHA's
/// masterha_check_repl is): the report, and exit 0 when healthy, else 1.
pub fn run(
    conf: &super::ConfArgs,
    seconds_behind_master: u64,
    check_ssh: bool,
    ignore_fail_on_start: bool,
    output: super::args::Output,
) -> anyhow::Result<super::exit::Exit> {
    let loaded = super::load(conf)?;
    let report = super::runtime()?.block_on(crate::executor::check_repl::check_repl(
        &loaded.config,
        seconds_behind_master,
        check_ssh,
        ignore_fail_on_start,
    ));
    match output {
        super::args::Output::Text => print!("{}", render_text(&report)),
        super::args::Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.healthy {
        super::exit::Exit::Ok
    } else {
        super::exit::Exit::Failure
    })
}
pub const NOT_OK: &str = "MySQL Replication Health is NOT OK!";

fn describe(o: &Observed, is_master: bool) -> String {
    match &o.state {
        Err(e) => format!("unreachable: {e}"),
        Ok(s) => {
            let mut line = format!(
                "{} server_id={} read_only={}",
                s.version,
                s.server_id,
                if s.read_only { "ON" } else { "OFF" }
            );
            if is_master {
                if let Some(b) = &s.binlog {
                    let _ = write!(line, " binlog={b}");
                }
            } else if let Some(r) = &s.replica {
                let _ = write!(
                    line,
                    " IO/SQL={}/{} behind={} gtid={}",
                    r.io_running,
                    r.sql_running,
                    r.seconds_behind_master
                        .map(|v| format!("{v}s"))
                        .unwrap_or_else(|| "NULL".into()),
                    if r.using_gtid.is_empty() {
                        "-"
                    } else {
                        &r.using_gtid
                    },
                );
                if let Some(p) = &r.read_pos {
                    let _ = write!(line, " read={p}");
                }
            }
            line
        }
    }
}

pub fn render_text(r: &ReplReport) -> String {
    let mut out = String::new();
    let a = &r.assessment;
    let master = a.master_index();
    let _ = writeln!(out, "Checking replication health of {}.", r.app);
    let _ = writeln!(out, "\nServers:");
    for (i, o) in r.topology.servers.iter().enumerate() {
        let role = match (&a.master, Some(i) == master) {
            (_, true) => "master",
            _ if o.alive().is_some_and(|s| s.replica.is_some()) => "replica",
            _ => "-",
        };
        let label = r
            .labels
            .get(&o.block)
            .map(|l| format!(" label={l}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {:<26} {:<8} {}{label}",
            o.block,
            o.name(),
            role,
            describe(o, Some(i) == master)
        );
    }
    if let Some(m) = master {
        // MHA's tree, which users grep.
        let mo = &r.topology.servers[m];
        let tag = match a.master {
            MasterView::Unreachable { .. } => " (current master, not reachable)",
            _ => " (current master)",
        };
        let _ = writeln!(out, "\n{}{}", mo.name(), tag);
        render_tree(&mut out, &r.topology, m, 0, &mut vec![]);
    }
    out.push_str(&render_semi_sync(r, master));
    if a.findings.is_empty() {
        let _ = writeln!(out, "\nNo problems found.");
    } else {
        let _ = writeln!(out, "\nFindings:");
        for f in &a.findings {
            let _ = writeln!(out, "  {f}");
        }
    }
    let _ = writeln!(
        out,
        "\nFailover readiness (who would be promoted if the master died now):"
    );
    match a.ranking.winner() {
        Some(w) => {
            let _ = writeln!(out, "  {} {} would be promoted.", w.block, w.name);
        }
        None => {
            let _ = writeln!(out, "  no replica can be promoted.");
        }
    }
    out.push_str(&render_ranking(&a.ranking));
    if let Some(c) = &a.recovery {
        let _ = writeln!(out, "  Recovery: {c}");
    }
    if let Some(d) = &r.detection {
        let _ = write!(out, "\n{d}");
    }
    let _ = writeln!(out, "\n{}", if r.healthy { OK } else { NOT_OK });
    out
}

/// MHA's tree below server `parent` at `depth`: its replicas, and theirs indented
/// (multi_tier_slave). `seen` holds the servers printed (a master-master pair replicates
/// both ways).
fn render_tree(
    out: &mut String,
    topo: &crate::topology::Topology,
    parent: usize,
    depth: usize,
    seen: &mut Vec<usize>,
) {
    seen.push(parent);
    for (i, o) in topo.servers.iter().enumerate() {
        if !seen.contains(&i) && topo.source_of(o) == Some(parent) {
            let _ = writeln!(out, "{} +--{}", "    ".repeat(depth), o.name());
            render_tree(out, topo, i, depth + 1, seen);
        }
    }
}

/// Each reachable server's semi-sync state, the master's side first on the master: one line
/// each, or one line for a cluster where no server has it on.
pub fn render_semi_sync(r: &ReplReport, master: Option<usize>) -> String {
    let mut out = String::new();
    let states: Vec<(&Observed, Option<&SemiSync>)> = r
        .topology
        .servers
        .iter()
        .filter_map(|o| o.alive().map(|s| (o, s.semi_sync.as_ref())))
        .collect();
    let any_on = states
        .iter()
        .any(|(_, s)| s.is_some_and(|s| s.master_enabled || s.slave_enabled));
    if !any_on {
        let _ = writeln!(
            out,
            "\nSemi-synchronous replication: off on every server (replication is asynchronous)."
        );
        return out;
    }
    let _ = writeln!(out, "\nSemi-synchronous replication:");
    for (o, s) in &states {
        let is_master = master.is_some_and(|m| std::ptr::eq(&r.topology.servers[m], *o));
        let line = match s {
            None => "unknown (the server has no semi-sync variables)".to_string(),
            Some(s) if is_master && s.slave_enabled => {
                format!("{}; {}", s.master_side(), s.slave_side())
            }
            Some(s) if is_master => s.master_side(),
            Some(s) if s.master_enabled => format!("{}; {}", s.slave_side(), s.master_side()),
            Some(s) => s.slave_side(),
        };
        let _ = writeln!(out, "  {:<8} {line}", o.block);
    }
    out
}

/// One line per server: its rank (or "-"), block, name and the reasons, as check_repl,
/// `--dry-run` and the failover report print them.
pub fn render_ranking(ranking: &crate::engine::elect::Ranking) -> String {
    let mut out = String::new();
    for s in &ranking.servers {
        let (rank, reasons, prefix) = match &s.verdict {
            Verdict::Eligible { reasons, .. } => (
                s.rank.map(|r| format!("{r}.")).unwrap_or_default(),
                reasons,
                "",
            ),
            Verdict::Ineligible { reasons } => ("-".into(), reasons, "not eligible: "),
        };
        let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {rank:<3} {:<8} {:<26} {prefix}{}",
            s.block,
            s.name,
            why.join("; ")
        );
    }
    out
}
