//! `check_repl`: observe every server, run the hooks' `status` calls, and let the engine judge.

use serde::Serialize;

use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, Assessment, CheckOptions};
use crate::engine::cost::{self, CostInputs, DetectionCost, DetectionSettings, ReplicaTiming, Ssh};
use crate::engine::reason::{Finding, Problem, Severity};
use crate::hooks::{self, HookCall};
use crate::sql::dialect::Dialect;
use crate::topology::Topology;

#[derive(Debug, Serialize)]
pub struct ReplReport {
    pub app: String,
    pub healthy: bool,
    pub topology: Topology,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// What detection will cost; None when the master is not identified.
    pub detection: Option<DetectionCost>,
    /// MHA's `node_label` of each server that has one, by block.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// MHA's ssh extras: only where they differ from the defaults.
pub fn ssh_args(prefix: &str, s: &ServerConfig) -> Vec<(String, String)> {
    // shutdown_script gets them without a prefix: --ssh_host, --ssh_ip, --ssh_port.
    let key = |what: &str| {
        if prefix.is_empty() {
            format!("ssh_{what}")
        } else {
            format!("{prefix}_ssh_{what}")
        }
    };
    let mut out = Vec::new();
    if s.ssh.host != s.hostname {
        out.push((key("host"), s.ssh.host.clone()));
    }
    if s.ssh.ip != s.ip {
        out.push((key("ip"), s.ssh.ip.clone()));
    }
    if s.ssh.port != 22 {
        out.push((key("port"), s.ssh.port.to_string()));
    }
    if let Some(o) = mha_ssh_options(s) {
        out.push(("ssh_options".into(), o));
    }
    out
}

/// What MHA hands hooks as `--ssh_options` (and `secondary_check_script` as `--options`) when
/// `ssh_options` is set: its own defaults, then the user's options. masterha_secondary_check
/// replaces its defaults with this string, so the defaults must be in it.
pub fn mha_ssh_options(s: &ServerConfig) -> Option<String> {
    s.ssh.options.as_ref().map(|o| {
        format!(
            "-o StrictHostKeyChecking=no -o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout={} {o}",
            s.ssh.connection_timeout.as_secs().max(1)
        )
    })
}

/// `--command=status` calls of master_ip_failover_script and shutdown_script, as MHA makes
/// at start-up: a failing one is an error.
pub async fn status_hooks(config: &Config, master: &ServerConfig) -> Vec<Finding> {
    let mut calls = Vec::new();
    if let Some(cmd) = &config.app.master_ip_failover_script {
        let mut args = vec![
            ("command".to_string(), "status".to_string()),
            ("ssh_user".into(), master.ssh.user.clone()),
            ("orig_master_host".into(), master.hostname.clone()),
            ("orig_master_ip".into(), master.ip.clone()),
            ("orig_master_port".into(), master.port.to_string()),
        ];
        args.extend(ssh_args("orig_master", master));
        calls.push(("master_ip_failover_script", cmd.clone(), args));
    }
    if let Some(cmd) = &config.app.shutdown_script {
        let args = vec![
            ("command".to_string(), "status".to_string()),
            ("ssh_user".into(), master.ssh.user.clone()),
            ("host".into(), master.hostname.clone()),
            ("ip".into(), master.ip.clone()),
        ];
        calls.push(("shutdown_script", cmd.clone(), args));
    }
    let mut findings = Vec::new();
    for (hook, command, args) in calls {
        let stdin_json = serde_json::json!({
            "hook": hook,
            "args": args.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        });
        let call = HookCall {
            secret_args: vec![],
            hook,
            command,
            args,
            env: vec![],
            secret_env: vec![],
            stdin_json,
            timeout: config.app.hook_timeout,
        };
        let detail = match hooks::run(&call).await {
            Ok(o) if o.exit_code == Some(0) => continue,
            Ok(o) => o.describe(),
            Err(e) => e.to_string(),
        };
        findings.push(Finding::new(
            Severity::Error,
            None,
            Problem::HookFailed {
                hook: hook.into(),
                detail,
            },
        ));
    }
    findings
}

/// Log in over SSH from the manager to every server (except skip_init_ssh_check ones) and run
/// `exit 0`, in parallel: later phases read binlogs over SSH.
pub async fn ssh_logins(config: &Config) -> Vec<Finding> {
    let mut set = tokio::task::JoinSet::new();
    for s in config.servers.iter().filter(|s| !s.skip_init_ssh_check) {
        let s = s.clone();
        set.spawn(async move {
            let detail = crate::ssh::login_check(&s.ssh).await.err()?;
            Some(Finding::new(
                Severity::Error,
                Some(s.display_name()),
                Problem::SshFailed { detail },
            ))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.extend(r.ok().flatten());
    }
    out.sort_by(|a, b| a.server.cmp(&b.server));
    out
}

/// A shell command that finds the first of `dirs` holding `file` and runs `then` there (`$d` is
/// the directory): exit 0 if found, 1 if not. master_binlog_dir is a list, as in MHA.
pub fn in_first_dir_holding(dirs: &[std::path::PathBuf], file: &str, then: &str) -> String {
    let dirs: Vec<String> = dirs
        .iter()
        .map(|d| crate::hooks::shell_quote(&d.display().to_string()))
        .collect();
    format!(
        "for d in {}; do if [ -f \"$d\"/{} ]; then {then}; exit 0; fi; done; exit 1",
        dirs.join(" "),
        crate::hooks::shell_quote(file)
    )
}

/// Why a host could not be asked for a binlog file over SSH.
#[derive(Debug, thiserror::Error)]
enum SshLookError {
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    #[error("{host}: timed out")]
    TimedOut { host: String },
}

/// Log in over SSH and, when `file` is given, look for it in the first of `dirs` holding it:
/// `Ok(Some(found))`, `Ok(None)` when there was no file to look for, `Err(why)` when the login
/// failed or timed out.
async fn holds_binlog_file(
    ssh: &crate::config::SshConfig,
    dirs: &[std::path::PathBuf],
    file: Option<&str>,
) -> Result<Option<bool>, SshLookError> {
    let (target, _) = crate::ssh::SshTarget::from_config(ssh);
    let timeout = ssh.connection_timeout;
    // Over the process's held session to that host (the manager keeps them open; a one-shot
    // check_repl opens it here).
    let attempt = async {
        let pool = crate::ssh::pool::pool();
        let found = match file {
            Some(f) => {
                let cmd = in_first_dir_holding(dirs, f, ":");
                Some(pool.exec(ssh, &cmd, timeout).await?.success())
            }
            // A login is the check.
            None => {
                pool.session(ssh).await?;
                None
            }
        };
        Ok::<_, crate::ssh::SshError>(found)
    };
    match tokio::time::timeout(timeout * 2, attempt).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(SshLookError::TimedOut {
            host: target.name(),
        }),
    }
}

/// Every binlog server (`[binlogN]`): an SSH login (an error when it fails, as in MHA), and a
/// copy of the master's current binlog file in its master_binlog_dir (a warning when missing:
/// the server has stopped receiving, or looks in the wrong place).
pub async fn binlog_server_checks(config: &Config, master_file: Option<String>) -> Vec<Finding> {
    let mut set = tokio::task::JoinSet::new();
    for b in &config.binlog_servers {
        let b = b.clone();
        let file = master_file.clone();
        set.spawn(async move {
            let name = b.label();
            match holds_binlog_file(&b.ssh, &b.master_binlog_dir, file.as_deref()).await {
                Ok(Some(false)) => Some(Finding::new(
                    Severity::Warning,
                    Some(name),
                    Problem::BinlogServerBehind {
                        file: file.unwrap_or_default(),
                    },
                )),
                Ok(_) => None,
                Err(e) => Some(Finding::new(
                    Severity::Error,
                    Some(name),
                    Problem::SshFailed {
                        detail: e.to_string(),
                    },
                )),
            }
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.extend(r.ok().flatten());
    }
    out.sort_by(|a, b| a.server.cmp(&b.server));
    out
}

/// Where a server keeps its relay logs: the directory and the file name prefix, from
/// `@@relay_log_basename`, else `@@datadir` and the prefix of `Relay_Log_File`.
pub fn relay_dir(basename: &str, datadir: &str, relay_log_file: &str) -> (String, String) {
    if let Some((dir, prefix)) = basename.rsplit_once('/')
        && !prefix.is_empty()
    {
        return (dir.to_string(), prefix.to_string());
    }
    let name = relay_log_file.rsplit('/').next().unwrap_or(relay_log_file);
    let prefix = name.rsplit_once('.').map(|(p, _)| p).unwrap_or(name);
    (
        datadir.trim_end_matches('/').to_string(),
        prefix.to_string(),
    )
}

/// The relay log files in a directory listing, oldest first (by number, not by name).
pub fn relay_files(listing: &str, prefix: &str) -> Vec<String> {
    let mut files: Vec<(u64, String)> = listing
        .lines()
        .filter_map(|l| {
            let (p, n) = l.trim().rsplit_once('.')?;
            let n: u64 = n.parse().ok()?;
            (p == prefix).then(|| (n, l.trim().to_string()))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, f)| f).collect()
}

/// What position-based recovery needs, when a failover may go by positions: every replica's
/// current relay log readable over SSH (an error when the failover would certainly go by
/// positions, a warning when only a lag at that moment would make it).
pub async fn relay_log_checks(
    config: &Config,
    topology: &Topology,
    assessment: &Assessment,
) -> Vec<Finding> {
    use crate::engine::plan::{Recovery, RecoveryWhy};
    let severity = match &assessment.recovery {
        Some(c) if c.recovery == Recovery::Positions => Severity::Error,
        Some(c) if matches!(c.why, RecoveryWhy::IfBehindOneOf { .. }) => Severity::Warning,
        _ => return vec![],
    };
    let Some(m) = assessment.master_index().map(|i| &topology.servers[i]) else {
        return vec![];
    };
    let mut set = tokio::task::JoinSet::new();
    for o in &topology.servers {
        let Some(r) = o.alive().and_then(|s| s.replica.as_ref()) else {
            continue;
        };
        let s = config.servers[o.order].clone();
        if !m.is_at(&r.master_host, r.master_port) || s.skip_init_ssh_check {
            continue;
        }
        let relay_log_file = r.relay_log_file.clone();
        let sql_timeout = config.app.timeouts.sql;
        set.spawn(async move {
            let detail = match relay_log_readable(&s, &relay_log_file, sql_timeout).await {
                Ok(()) => return None,
                Err(d) => d,
            };
            Some(Finding::new(
                severity,
                Some(s.display_name()),
                Problem::RelayLogUnreadable {
                    path: detail.0,
                    detail: detail.1,
                },
            ))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.extend(r.ok().flatten());
    }
    out.sort_by(|a, b| a.server.cmp(&b.server));
    out
}

/// The replica's current relay log can be read over SSH; else (its path, why not).
async fn relay_log_readable(
    s: &ServerConfig,
    relay_log_file: &str,
    timeout: std::time::Duration,
) -> Result<(), (String, String)> {
    let target = super::observe::target(s);
    let location = async {
        let mut db = crate::sql::connect(&target, timeout).await?;
        let l = db.relay_log_location().await;
        db.disconnect().await;
        l
    };
    let (basename, datadir) = location
        .await
        .map_err(|e| (relay_log_file.to_string(), e.to_string()))?;
    let (dir, _) = relay_dir(&basename, &datadir, relay_log_file);
    let name = relay_log_file.rsplit('/').next().unwrap_or(relay_log_file);
    let path = format!("{dir}/{name}");
    let cmd = format!("test -r {}", crate::hooks::shell_quote(&path));
    let pool = crate::ssh::pool::pool();
    let ssh_timeout = s.ssh.connection_timeout;
    match tokio::time::timeout(ssh_timeout * 2, pool.exec(&s.ssh, &cmd, ssh_timeout)).await {
        Ok(Ok(out)) if out.success() => Ok(()),
        Ok(Ok(_)) => Err((path, "not readable by the SSH user".into())),
        Ok(Err(e)) => Err((path, e.to_string())),
        Err(_) => Err((path, "timed out".into())),
    }
}

/// What detection will cost with this configuration and these replicas. `ssh_checked`: the
/// SSH logins ran and their failures are among the findings.
pub fn detection_cost(
    config: &Config,
    topology: &Topology,
    assessment: &Assessment,
    ssh_checked: bool,
) -> Option<DetectionCost> {
    let m = assessment.master_index()?;
    let master = &topology.servers[m];
    let ssh = |s: &ServerConfig| {
        if !ssh_checked || s.skip_init_ssh_check {
            return Ssh::NotChecked;
        }
        let name = s.display_name();
        let failed = assessment.findings.iter().any(|f| {
            f.server.as_deref() == Some(name.as_str())
                && matches!(f.problem, Problem::SshFailed { .. })
        });
        if failed {
            Ssh::Unreachable
        } else {
            Ssh::Reachable
        }
    };
    let mut versions = Vec::new();
    let mut replicas = Vec::new();
    for o in &topology.servers {
        let Some(s) = o.alive() else { continue };
        match &s.replica {
            Some(r) if o.order != master.order && master.is_at(&r.master_host, r.master_port) => {}
            _ => continue,
        }
        versions.push(s.version.clone());
        replicas.push(ReplicaTiming {
            block: o.block.clone(),
            name: o.name(),
            heartbeat_period: s.heartbeat_period,
            slave_net_timeout: s.slave_net_timeout,
            ssh: ssh(&config.servers[o.order]),
        });
    }
    let inputs = CostInputs {
        settings: DetectionSettings {
            ping_interval: config.app.ping_interval.as_secs_f64(),
            ping_failures: config.app.ping_failures,
            fast_crash_detection: config.app.fast_crash_detection,
            secondary_check_script: config.app.secondary_check_script.is_some(),
        },
        master_ssh: ssh(&config.servers[master.order]),
        replicas,
    };
    Some(cost::detection_cost(
        &inputs,
        |i, heartbeat, net_timeout| {
            Dialect::shorten_detection(&versions[i], heartbeat, net_timeout)
        },
    ))
}

/// The master's current binlog file must be in its master_binlog_dir, as MHA checked at
/// start-up: otherwise a failover could not save what no replica received. A failed SSH login
/// is left to `ssh_logins` (one finding, not two).
pub async fn master_binlog_dir_check(master: &ServerConfig, file: &str) -> Option<Finding> {
    match holds_binlog_file(&master.ssh, &master.master_binlog_dir, Some(file)).await {
        Ok(Some(false)) => Some(Finding::new(
            Severity::Error,
            Some(master.display_name()),
            Problem::BinlogNotInMasterBinlogDir {
                file: file.to_string(),
                dirs: master
                    .master_binlog_dir
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect(),
            },
        )),
        _ => None,
    }
}

/// The binlog file checks of check_repl and the manager's start-up: the master's current file
/// in its master_binlog_dir (unless `check_master_ssh` is false or the master has
/// skip_init_ssh_check), and every binlog server.
pub async fn binlog_file_checks(
    config: &Config,
    topology: &Topology,
    assessment: &Assessment,
    check_master_ssh: bool,
) -> Vec<Finding> {
    let file = master_binlog_file(topology, assessment);
    let master = assessment
        .master_index()
        .map(|i| &config.servers[topology.servers[i].order])
        .filter(|m| check_master_ssh && !m.skip_init_ssh_check);
    let on_master = async {
        match (master, &file) {
            (Some(m), Some(f)) => master_binlog_dir_check(m, f).await,
            _ => None,
        }
    };
    let (mine, servers) = tokio::join!(on_master, binlog_server_checks(config, file.clone()));
    mine.into_iter().chain(servers).collect()
}

/// The master's current binlog file, when it is known.
pub fn master_binlog_file(topology: &Topology, assessment: &Assessment) -> Option<String> {
    let i = assessment.master_index()?;
    Some(topology.servers[i].alive()?.binlog.as_ref()?.file.clone())
}

/// What a failover needs on the manager's host, checked before one can start (MHA's node
/// tools did it on each host): the binlog decoder and the client for every server (each
/// may name its own `client_bindir`) of the cluster's flavour (MySQL when `topology` has a
/// MySQL server: MySQL's own `mysqlbinlog`), and a writable `manager_workdir`.
pub fn manager_host_checks(config: &Config, topology: &Topology) -> Vec<Finding> {
    use crate::executor::tools;
    let flavour = topology
        .servers
        .iter()
        .filter_map(|o| o.alive())
        .map(|s| s.version.flavour)
        .find(|f| *f == crate::topology::Flavour::MySql)
        .unwrap_or(crate::topology::Flavour::MariaDb);
    let mut findings = Vec::new();
    for s in &config.servers {
        let found = [
            tools::find_binlog_tool(flavour, s),
            tools::find(tools::client_tools(flavour), s),
        ];
        let names = [tools::binlog_tools(flavour), tools::client_tools(flavour)];
        for (names, found) in names.into_iter().zip(found) {
            if found.is_none() {
                let looked_in = tools::search_dirs(s)
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":");
                let problem = Problem::ToolMissing {
                    tools: names.iter().map(|n| n.to_string()).collect(),
                    looked_in,
                };
                // One finding per missing tool and place looked in, not one per server.
                if !findings.iter().any(|f: &Finding| f.problem == problem) {
                    findings.push(Finding::new(Severity::Error, None, problem));
                }
            }
        }
    }
    let dir = &config.app.manager_workdir;
    let probe = std::fs::create_dir_all(dir).and_then(|_| tempfile::tempfile_in(dir));
    if let Err(e) = probe {
        let problem = Problem::WorkdirNotWritable {
            path: dir.display().to_string(),
            error: e.to_string(),
        };
        findings.push(Finding::new(Severity::Error, None, problem));
    }
    findings
}

/// `ignore_fail_on_start`: MHA's --ignore_fail_on_start, a replica that is down but has
/// ignore_fail=1 is only a warning.
pub async fn check_repl(
    config: &Config,
    seconds_behind_master: u64,
    check_ssh: bool,
    ignore_fail_on_start: bool,
) -> ReplReport {
    let topology = super::observe::observe(config, config.app.timeouts.sql).await;
    let opts = CheckOptions {
        seconds_behind_master,
        detection_window: config.app.ping_interval.as_secs_f64()
            * f64::from(config.app.ping_failures),
        ignore_fail_on_start,
    };
    let mut assessment = checks::assess(&topology, config, &opts);
    assessment
        .findings
        .extend(manager_host_checks(config, &topology));
    if check_ssh {
        assessment.findings.extend(ssh_logins(config).await);
    }
    assessment
        .findings
        .extend(binlog_file_checks(config, &topology, &assessment, check_ssh).await);
    if check_ssh {
        let relay = relay_log_checks(config, &topology, &assessment).await;
        assessment.findings.extend(relay);
    }
    if let Some(i) = assessment.master_index() {
        let master = &config.servers[topology.servers[i].order];
        assessment
            .findings
            .extend(status_hooks(config, master).await);
    }
    let detection = detection_cost(config, &topology, &assessment, check_ssh);
    ReplReport {
        app: config.app_name.clone(),
        healthy: assessment.healthy(),
        topology,
        assessment,
        detection,
        labels: config
            .servers
            .iter()
            .filter_map(|s| Some((s.block.clone(), s.node_label.clone()?)))
            .collect(),
    }
}
