//! The failover engine: MHA's phases, one async function each, timed and recorded.
//!
//! Recovery is done with the server's own GTIDs (MariaDB keeps GTIDs in every binlog and
//! tracks `gtid_slave_pos` in both replication modes): the new master first catches up with
//! the most advanced replica by replicating from it, then the dead master's binlog tail saved
//! over SSH is applied with `mariadb-binlog | mariadb`, then every other replica fetches what
//! it lacks from the new master. In file/position mode the replicas are switched back to the
//! new master's binlog coordinates once they are identical to it. See docs/failover.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tracing::{Instrument, error, info, warn};

use super::observe::target;
use crate::binlog;
use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, MasterView};
use crate::engine::elect::{self, Ranking};
use crate::engine::guard::{self, Markers};
use crate::hooks::{self, HookCall};
use crate::secret::Secret;
use crate::sql::dialect::StartAt;
use crate::sql::ops::Toward;
use crate::sql::{self, Session};
use crate::topology::{BinlogPos, Flavour, MariaGtidPos, ReplicaStatus, Row, Topology};

#[derive(Debug, Clone, Default)]
pub struct FailoverOptions {
    /// --dead_master_host / --dead_master_port (manual failover).
    pub dead_master: Option<(String, u16)>,
    /// --new_master_host / --new_master_port.
    pub new_master: Option<(String, Option<u16>)>,
    pub ignore_last_failover: bool,
    pub last_failover_minute: u64,
    pub remove_dead_master_conf: bool,
    /// Fail over even when a configured binlog server does not answer SSH.
    pub ignore_binlog_server_error: bool,
    pub skip_save_master_binlog: bool,
    pub skip_change_master: bool,
    pub skip_disable_read_only: bool,
    pub wait_until_gtid_in_sync: bool,
    pub dry_run: bool,
    pub workdir: PathBuf,
    /// ping_type=INSERT: a dead master may still accept connections.
    pub master_may_answer: bool,
    /// Go on when the dead master's host answers SSH but its binlog cannot be read (phase
    /// 3.2), accepting the loss of what no replica received; without it the failover stops
    /// before promotion.
    pub ignore_binlog_save_error: bool,
    /// What the manager's detection found moments ago: phases 1 and 2 use it instead of
    /// probing an unreachable master again with full timeouts.
    pub detected: Option<Detected>,
    /// The dead master's block name, when the manager detected it.
    pub dead_master_block: Option<String>,
}

/// How the master failed to answer SQL when detection declared it dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterSql {
    /// Connections refused: nothing listens on the port.
    Refused,
    /// No answer within the timeouts (hung, or the host is gone).
    Silent,
}

/// The facts behind the manager's `Master is down!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub at: Instant,
    /// The master's host answered SSH (Some(true)), did not (Some(false)), was not asked.
    pub master_ssh: Option<bool>,
    pub master_sql: MasterSql,
    /// mysqld's pid file on the master's host, as the server reported it.
    pub pid_file: Option<String>,
}

impl Detected {
    /// Seconds-old evidence is still evidence; older is re-probed.
    fn fresh(&self) -> bool {
        self.at.elapsed() < Duration::from_secs(30)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Gtid,
    FilePos,
}

/// How a failover ended. Its exit code (`FailoverRecord::exit_code`) is documented in
/// docs/exit-codes.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Complete: the new master takes writes, every replica follows it, nothing is listed
    /// under NOT recovered.
    Success,
    /// The new master runs, but some replica could not be repointed (MHA's exit 10).
    Partial,
    /// The new master runs, but the report lists transactions under NOT recovered (lost, or
    /// possibly lost). Takes precedence over `Partial`: the failed replicas are in the report.
    DataNotRecovered,
    /// Stopped in phase 3.2 before promotion: the dead master's host answers SSH but its
    /// binlog could not be read. Nothing was promoted; phase 2 ran (IO threads stopped).
    StoppedBeforePromotion,
    Failed,
    /// Refused before anything was changed.
    Refused,
    DryRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    pub phase: &'static str,
    pub name: &'static str,
    pub ms: u64,
    pub ok: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    pub from: String,
    pub gtids: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplicaResult {
    pub server: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookPlan {
    pub hook: &'static str,
    pub args: Vec<(String, String)>,
}

/// Everything about one failover attempt: rendered as the report, written as JSON to the
/// workdir, given to report_script.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverRecord {
    pub app: String,
    pub started_unix: u64,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub dead_master: Option<String>,
    pub new_master: Option<String>,
    pub mode: Option<Mode>,
    pub latest_replica: Option<String>,
    pub ranking: Option<Ranking>,
    pub phases: Vec<PhaseRecord>,
    pub recovered: Vec<Recovered>,
    pub not_recovered: Vec<String>,
    pub replicas: Vec<ReplicaResult>,
    pub hooks: Vec<HookPlan>,
    /// Dry run: the steps that would be taken.
    pub plan: Vec<String>,
    pub total_ms: u64,
}

impl FailoverRecord {
    /// A record of a failover that has just started: failed until it says otherwise.
    pub fn new(app: &str, started_unix: u64) -> FailoverRecord {
        FailoverRecord {
            app: app.to_string(),
            started_unix,
            outcome: Outcome::Failed,
            error: None,
            dead_master: None,
            new_master: None,
            mode: None,
            latest_replica: None,
            ranking: None,
            phases: vec![],
            recovered: vec![],
            not_recovered: vec![],
            replicas: vec![],
            hooks: vec![],
            plan: vec![],
            total_ms: 0,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::Success | Outcome::DryRun => 0,
            Outcome::Partial => 10,
            Outcome::DataNotRecovered => 11,
            Outcome::StoppedBeforePromotion => 12,
            Outcome::Failed | Outcome::Refused => 1,
        }
    }

    /// What the manager's status file keeps about this failover (none for a dry run or a
    /// refusal: nothing was changed).
    pub fn last_failover(&self) -> Option<crate::status::LastFailover> {
        use crate::status::FailoverResult as R;
        let result = match self.outcome {
            Outcome::Success => R::Complete,
            Outcome::Partial => R::Partial,
            Outcome::DataNotRecovered => R::DataNotRecovered,
            Outcome::StoppedBeforePromotion => R::StoppedBeforePromotion,
            Outcome::Failed => R::Failed,
            Outcome::Refused | Outcome::DryRun => return None,
        };
        Some(crate::status::LastFailover {
            result,
            started_unix: self.started_unix,
        })
    }

    /// MHA's subject line.
    pub fn subject(&self) -> String {
        let dead = self.dead_master.clone().unwrap_or_default();
        match (&self.outcome, &self.new_master) {
            (Outcome::Success, Some(n)) => format!(
                "{}: MySQL Master failover {dead} to {n} succeeded",
                self.app
            ),
            (Outcome::DryRun, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} (dry run)",
                    self.app
                )
            }
            (Outcome::DryRun, None) => {
                format!(
                    "{}: MySQL Master failover {dead}: no new master (dry run)",
                    self.app
                )
            }
            (Outcome::Partial, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} done, but recovery on slave partially failed",
                    self.app
                )
            }
            (Outcome::DataNotRecovered, Some(n)) => {
                format!(
                    "{}: MySQL Master failover {dead} to {n} done, but data was NOT recovered",
                    self.app
                )
            }
            (Outcome::StoppedBeforePromotion, _) => {
                format!(
                    "{}: MySQL Master failover {dead} stopped before promotion: nothing was promoted",
                    self.app
                )
            }
            _ => format!("{}: MySQL Master failover {dead} failed", self.app),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PhaseError(pub String);

impl From<sql::DbError> for PhaseError {
    fn from(e: sql::DbError) -> Self {
        PhaseError(e.to_string())
    }
}

type PResult<T> = Result<T, PhaseError>;

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn complete_marker(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.failover.complete"))
}

pub fn error_marker(workdir: &Path, app: &str) -> PathBuf {
    workdir.join(format!("{app}.failover.error"))
}

pub fn markers(workdir: &Path, app: &str) -> Markers {
    let complete = complete_marker(workdir, app);
    let error = error_marker(workdir, app);
    Markers {
        complete_mtime_unix: std::fs::metadata(&complete)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        complete_path: complete.display().to_string(),
        error_exists: error.exists(),
        error_path: error.display().to_string(),
        error_owner: std::fs::read_to_string(&error)
            .ok()
            .and_then(|t| t.trim().strip_prefix(RUNNING_PREFIX)?.parse::<u32>().ok())
            .map(|pid| (pid, crate::status::pid_alive(pid))),
    }
}

/// While a failover changes the cluster its error flag file says `running pid=N`: a second
/// failover is refused while N runs, and one that finds N gone knows the last failover was
/// interrupted. A failed failover replaces the text by the time; a successful one removes it.
const RUNNING_PREFIX: &str = "running pid=";

/// What phase 1 learned.
struct Facts {
    topo: Topology,
    dead: usize,
    replicas: Vec<usize>,
    mode: Mode,
}

struct Run<'a> {
    config: &'a Config,
    opts: &'a FailoverOptions,
    rec: FailoverRecord,
    started: Instant,
}

impl Run<'_> {
    fn server(&self, i: usize) -> &ServerConfig {
        &self.config.servers[i]
    }

    fn phase_done(
        &mut self,
        phase: &'static str,
        name: &'static str,
        t: Instant,
        ok: bool,
        notes: Vec<String>,
    ) {
        self.phase_done_ms(phase, name, t.elapsed(), ok, notes);
    }

    fn phase_done_ms(
        &mut self,
        phase: &'static str,
        name: &'static str,
        took: Duration,
        ok: bool,
        notes: Vec<String>,
    ) {
        let ms = took.as_millis() as u64;
        if ok {
            info!(phase, ms, "* Phase {phase}: {name} Phase completed.");
        } else {
            error!(phase, ms, "* Phase {phase}: {name} Phase failed.");
        }
        self.rec.phases.push(PhaseRecord {
            phase,
            name,
            ms,
            ok,
            notes,
        });
        journal(
            &self.opts.workdir,
            &self.config.app_name,
            phase,
            name,
            if ok { "done" } else { "failed" },
        );
    }
}

fn journal(workdir: &Path, app: &str, phase: &str, name: &str, state: &str) {
    use std::io::Write;
    let line =
        serde_json::json!({"at_unix": now_unix(), "phase": phase, "name": name, "state": state});
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(workdir.join(format!("{app}.failover.journal")))
    {
        let _ = writeln!(f, "{line}");
    }
}

async fn session(s: &ServerConfig) -> PResult<Session> {
    Ok(sql::connect(&target(s), Duration::from_secs(5)).await?)
}

async fn replica_status(db: &mut Session) -> PResult<Option<(ReplicaStatus, Row)>> {
    let row = db.replica_status_row().await?;
    Ok(row.map(|r| (ReplicaStatus::from_row(&r), r)))
}

async fn gtid_var(db: &mut Session, var: &'static str) -> PResult<MariaGtidPos> {
    Ok(db.gtid_pos(var).await?)
}

// ------------------------------------------------------------------------------------------
// Phase 1: Configuration Check

async fn phase1(run: &mut Run<'_>) -> PResult<Facts> {
    let config = run.config;
    let m = markers(&run.opts.workdir, &config.app_name);
    if let Err(r) = guard::check(
        &m,
        now_unix(),
        run.opts.last_failover_minute,
        run.opts.ignore_last_failover,
    ) {
        return Err(PhaseError(r.to_string()));
    }
    if run.opts.ignore_last_failover && !run.opts.dry_run {
        let _ = std::fs::remove_file(complete_marker(&run.opts.workdir, &config.app_name));
        let _ = std::fs::remove_file(error_marker(&run.opts.workdir, &config.app_name));
    }
    // The manager has just found the master unreachable: do not wait for it again.
    let known_down = run
        .opts
        .detected
        .as_ref()
        .filter(|d| d.fresh() && !run.opts.master_may_answer)
        .and(run.opts.dead_master_block.as_deref());
    let topo = super::observe::observe_except(config, Duration::from_secs(3), known_down).await;
    // The dead master: what the replicas replicate from.
    let dead = match checks::find_master(&topo) {
        MasterView::Unreachable { index } => index,
        MasterView::Alive { index } if run.opts.master_may_answer => index,
        MasterView::Alive { index } => {
            return Err(PhaseError(format!(
                "The master {} is reachable via MySQL! Stop failover.",
                topo.servers[index].name()
            )));
        }
        other => {
            return Err(PhaseError(format!(
                "cannot tell which server is the dead master: {other:?}"
            )));
        }
    };
    if let Some((host, port)) = &run.opts.dead_master
        && !topo.servers[dead].is_at(host, *port)
    {
        return Err(PhaseError(format!(
            "Detected dead master {} does not match with specified dead master {host}:{port}!",
            topo.servers[dead].name()
        )));
    }
    run.rec.dead_master = Some(topo.servers[dead].name());
    let mut replicas = Vec::new();
    for (i, o) in topo.servers.iter().enumerate() {
        if i == dead {
            continue;
        }
        let cfg = &config.servers[o.order];
        match o.alive() {
            Some(s)
                if s.replica
                    .as_ref()
                    .is_some_and(|r| topo.servers[dead].is_at(&r.master_host, r.master_port)) =>
            {
                if s.version.flavour != Flavour::MariaDb {
                    return Err(PhaseError(format!(
                        "{}: is not MariaDB: failover supports MariaDB only",
                        o.name()
                    )));
                }
                replicas.push(i);
            }
            _ if cfg.ignore_fail => warn!(
                "{} is not a working replica of the dead master; ignored (ignore_fail=1)",
                o.name()
            ),
            Some(_) => {
                return Err(PhaseError(format!(
                    "{} does not replicate from the dead master {}; fix it or set ignore_fail=1",
                    o.name(),
                    topo.servers[dead].name()
                )));
            }
            None => {
                return Err(PhaseError(format!(
                    "{} is not reachable ({}); set ignore_fail=1 on it to fail over without it",
                    o.name(),
                    o.state.clone().err().unwrap_or_default()
                )));
            }
        }
    }
    if replicas.is_empty() {
        return Err(PhaseError(
            "no replica of the dead master is reachable".into(),
        ));
    }
    let all_gtid = replicas.iter().all(|&i| {
        topo.servers[i]
            .alive()
            .and_then(|s| s.replica.as_ref())
            .is_some_and(ReplicaStatus::uses_gtid)
    });
    let mode = if all_gtid { Mode::Gtid } else { Mode::FilePos };
    run.rec.mode = Some(mode);
    check_binlog_servers(run).await?;
    info!(
        "Starting {} failover of the dead master {}.",
        if all_gtid {
            "GTID based"
        } else {
            "Non-GTID based"
        },
        topo.servers[dead].name()
    );
    Ok(Facts {
        topo,
        dead,
        replicas,
        mode,
    })
}

/// As MHA: every configured binlog server must answer SSH before anything is changed, unless
/// --ignore_binlog_server_error (then the failover goes on without the ones that do not).
async fn check_binlog_servers(run: &mut Run<'_>) -> PResult<()> {
    if run.opts.skip_save_master_binlog || run.config.binlog_servers.is_empty() {
        return Ok(());
    }
    // The same login check as check_repl's (no binlog file to look for here).
    let failed: Vec<String> = super::check_repl::binlog_server_checks(run.config, None)
        .await
        .into_iter()
        .filter_map(|f| match f.problem {
            crate::engine::reason::Problem::SshFailed { detail } => {
                Some(format!("{}: {detail}", f.server.unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    if run.opts.ignore_binlog_server_error {
        for f in &failed {
            warn!(
                "binlog server not reachable over SSH, ignored (--ignore_binlog_server_error): {f}"
            );
        }
        return Ok(());
    }
    Err(PhaseError(format!(
        "binlog server not reachable over SSH: {}. Fix it, or fail over without it with --ignore_binlog_server_error.",
        failed.join("; ")
    )))
}

// ------------------------------------------------------------------------------------------
// Phase 2: Dead Master Shutdown

fn ssh_extras(prefix: &str, s: &ServerConfig) -> Vec<(String, String)> {
    super::check_repl::ssh_args(prefix, s)
}

fn ip_failover_args(command: &str, dead: &ServerConfig) -> Vec<(String, String)> {
    let mut args = vec![
        ("command".to_string(), command.to_string()),
        ("ssh_user".into(), dead.ssh.user.clone()),
        ("orig_master_host".into(), dead.hostname.clone()),
        ("orig_master_ip".into(), dead.ip.clone()),
        ("orig_master_port".into(), dead.port.to_string()),
    ];
    args.extend(ssh_extras("orig_master", dead));
    args
}

async fn run_hook(
    config: &Config,
    hook: &'static str,
    command: &str,
    args: Vec<(String, String)>,
    secrets: Vec<(String, Secret)>,
) -> Result<i32, String> {
    let mut doc = serde_json::Map::new();
    for (k, v) in &args {
        doc.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    for (k, v) in &secrets {
        doc.insert(
            k.to_ascii_lowercase(),
            serde_json::Value::String(v.expose().to_string()),
        );
    }
    let call = HookCall {
        hook,
        command: command.to_string(),
        args,
        env: vec![],
        secret_env: secrets,
        stdin_json: serde_json::Value::Object(doc),
        timeout: config.app.hook_timeout,
    };
    info!(hook, "Executing {}", call.command_line());
    match hooks::run(&call).await {
        Ok(o) => {
            for line in o.stdout.lines().chain(o.stderr.lines()) {
                info!(hook, "  {line}");
            }
            o.exit_code.ok_or_else(|| o.describe())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Can a command run on the host over SSH (the held session when there is one)?
async fn ssh_reachable(s: &ServerConfig) -> bool {
    let timeout = s.ssh.connection_timeout.min(Duration::from_secs(3));
    matches!(
        crate::ssh::pool::pool().exec(&s.ssh, "exit 0", timeout).await,
        Ok(o) if o.success()
    )
}

/// Shell: kill -9 the mysqld of the pid file (or, failing that, the process listening on the
/// port) and wait until it is gone. A zombie counts as gone: it holds no socket and no file.
fn kill_command(pid_file: Option<&str>, port: u16) -> String {
    let pf = crate::hooks::shell_quote(pid_file.unwrap_or(""));
    format!(
        "alive() {{ [ -d /proc/$1 ] && ! grep -qs '^State:[[:space:]]*[ZX]' /proc/$1/status; }}; \
         p={pf}; pid=''; \
         if [ -n \"$p\" ] && [ -f \"$p\" ]; then pid=$(head -c 20 \"$p\" | tr -dc 0-9); fi; \
         if [ -z \"$pid\" ] || ! alive \"$pid\"; then pid=$(ss -Htlnp 'sport = :{port}' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2); fi; \
         if [ -z \"$pid\" ] || ! alive \"$pid\"; then echo none; exit 0; fi; \
         kill -9 \"$pid\" 2>/dev/null || sudo -n kill -9 \"$pid\" 2>/dev/null; \
         i=0; while alive \"$pid\" && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; \
         if alive \"$pid\"; then echo alive \"$pid\"; exit 1; fi; echo killed \"$pid\""
    )
}

/// Fence the dead master before anything is promoted: an old master that comes back must not
/// take writes next to the new one. Returns a note for the report; an error stops the
/// failover (a fence that could not be put up is never passed over in silence).
async fn fence(
    config: &Config,
    dead: &ServerConfig,
    ssh_ok: bool,
    detected: Option<&Detected>,
) -> PResult<String> {
    use crate::config::Fencing;
    let name = dead.display_name();
    let pid_file = dead
        .master_pid_file
        .as_ref()
        .map(|p| p.display().to_string())
        .or_else(|| detected.and_then(|d| d.pid_file.clone()));
    if config.app.fencing == Fencing::Kill && ssh_ok {
        let cmd = kill_command(pid_file.as_deref(), dead.port);
        let out = crate::ssh::pool::pool()
            .exec(&dead.ssh, &cmd, Duration::from_secs(10))
            .await
            .map_err(|e| {
                PhaseError(format!(
                    "fencing {name} failed: {e}. Stop its mysqld by hand, or set fencing = \"read_only\" or \"none\"; failover aborted before any promotion"
                ))
            })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.success() {
            return Err(PhaseError(format!(
                "fencing {name} failed: its mysqld could not be killed ({text}{}). Stop it by hand, or set fencing = \"read_only\" or \"none\"; failover aborted before any promotion",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let note = match text.split_whitespace().collect::<Vec<_>>()[..] {
            ["killed", pid] => {
                warn!("Fenced {name}: its mysqld (pid {pid}) did not answer SQL and was killed");
                format!("fenced: mysqld pid {pid} on {name} killed (kill -9), verified gone")
            }
            _ => format!("fenced: no mysqld process on {name}'s host"),
        };
        return Ok(note);
    }
    if config.app.fencing == Fencing::None {
        warn!("fencing = none: {name} is not fenced; only shutdown_script protects it");
        return Ok("not fenced (fencing = none)".into());
    }
    // read_only, or kill without SSH: make it read-only if it still answers SQL. A master
    // whose connects are refused, or that was silent moments ago, gets a short try; one whose
    // host answered neither SQL nor SSH moments ago is not tried again.
    if let Some(d) = detected
        && d.master_ssh == Some(false)
        && d.master_sql == MasterSql::Silent
        && !ssh_ok
    {
        warn!(
            "{name} could not be fenced: its host answered neither SQL nor SSH; if it comes back it may take writes (shutdown_script can power it off; semi-sync replication keeps it from acknowledging alone)"
        );
        return Ok("NOT fenced: the host answers neither SQL nor SSH".into());
    }
    let quick = detected.is_some_and(|d| d.fresh());
    let timeout = if quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    };
    match sql::connect(&target(dead), timeout).await {
        Ok(mut db) => {
            warn!(
                "The dead master {name} still answers SQL: making it read-only and killing client sessions"
            );
            db.set_read_only_as("fence: read_only", true)
                .await
                .map_err(|e| PhaseError(format!("fencing {name} failed: {e}; failover aborted")))?;
            db.kill_client_sessions().await;
            db.disconnect().await;
            Ok(format!(
                "fenced: {name} answered SQL and was set read_only=1"
            ))
        }
        Err(e) => {
            let why = if ssh_ok {
                "its host answers SSH, but fencing is read_only"
            } else {
                "its host does not answer SSH"
            };
            warn!(
                "{name} could not be fenced ({why}; SQL: {e}): if it comes back it may take writes; shutdown_script (power off) or semi-sync replication prevent that"
            );
            Ok(format!("NOT fenced: {why}; SQL: {e}"))
        }
    }
}

async fn phase2(run: &mut Run<'_>, f: &Facts) -> PResult<(bool, String)> {
    let config = run.config;
    let dead = run.server(f.topo.servers[f.dead].order).clone();
    let detected = run.opts.detected.clone().filter(Detected::fresh);
    // Nothing more may arrive from the old master; meanwhile, is its host reachable?
    let mut set = JoinSet::new();
    for &i in &f.replicas {
        let s = run.server(f.topo.servers[i].order).clone();
        set.spawn(async move {
            let mut db = session(&s).await?;
            db.stop_io_thread().await?;
            db.disconnect().await;
            Ok::<_, PhaseError>(())
        });
    }
    let ssh_check = async {
        match detected.as_ref().and_then(|d| d.master_ssh) {
            Some(known) => known,
            None => ssh_reachable(&dead).await,
        }
    };
    let stop_io = async {
        while let Some(r) = set.join_next().await {
            r.map_err(|e| PhaseError(e.to_string()))??;
        }
        Ok::<_, PhaseError>(())
    };
    let (stopped, mut ssh_ok) = tokio::join!(stop_io, ssh_check);
    stopped?;
    info!(
        "{}",
        if ssh_ok {
            "SSH is reachable."
        } else {
            "SSH is NOT reachable."
        }
    );
    if let Some(cmd) = &config.app.master_ip_failover_script {
        let command = if ssh_ok { "stopssh" } else { "stop" };
        match run_hook(
            config,
            "master_ip_failover_script",
            cmd,
            ip_failover_args(command, &dead),
            vec![],
        )
        .await
        {
            Ok(0) => {}
            Ok(10) => warn!("master_ip_failover_script exited 10: Proceeding."),
            Ok(c) => {
                return Err(PhaseError(format!(
                    "master_ip_failover_script --command={command} failed (exit code {c}); failover aborted"
                )));
            }
            Err(e) => {
                return Err(PhaseError(format!(
                    "master_ip_failover_script --command={command} failed ({e}); failover aborted"
                )));
            }
        }
    }
    let mut powered_off = false;
    if let Some(cmd) = &config.app.shutdown_script {
        let command = if ssh_ok { "stopssh" } else { "stop" };
        let mut args = vec![
            ("command".to_string(), command.to_string()),
            ("ssh_user".into(), dead.ssh.user.clone()),
            ("host".into(), dead.hostname.clone()),
            ("ip".into(), dead.ip.clone()),
            ("port".into(), dead.port.to_string()),
        ];
        if let Some(p) = &dead.master_pid_file {
            args.push(("pid_file".into(), p.display().to_string()));
        }
        match run_hook(config, "shutdown_script", cmd, args, vec![]).await {
            Ok(0) => {
                // powered off
                ssh_ok = false;
                powered_off = true;
            }
            Ok(10) => info!("SSH reachable. Shutting down mysqld done."),
            Ok(c) => {
                return Err(PhaseError(format!(
                    "shutdown_script failed (exit code {c}); failover aborted"
                )));
            }
            Err(e) => {
                return Err(PhaseError(format!(
                    "shutdown_script failed ({e}); failover aborted"
                )));
            }
        }
    }
    let fenced = if powered_off {
        "fenced: shutdown_script powered the host off".to_string()
    } else {
        fence(config, &dead, ssh_ok, detected.as_ref()).await?
    };
    Ok((ssh_ok, fenced))
}

// ------------------------------------------------------------------------------------------
// Phase 3: Master Recovery

/// A replica after its SQL thread applied everything it had received; a delayed replica as it
/// was (it is never waited for).
#[derive(Debug, Clone)]
struct Applied {
    idx: usize,
    status: ReplicaStatus,
    slave_pos: MariaGtidPos,
    log_slave_updates: bool,
    /// SQL_Delay > 0 (MASTER_DELAY): its SQL thread applies what it received only hours
    /// later, so it was not waited for, is not the latest, and keeps its delay.
    delayed: bool,
}

/// Wait until the replica's SQL thread has executed all it received (or waits inside a
/// transaction whose end never arrived), polling every 20 ms (MHA polled every second). A
/// delayed replica (`delayed`) is read once, not waited for: its SQL thread would apply what
/// it received only after MASTER_DELAY seconds.
async fn wait_applied(s: &ServerConfig, idx: usize, delayed: bool) -> PResult<Applied> {
    let mut db = session(s).await?;
    let started = Instant::now();
    let mut last_exec: Option<BinlogPos> = None;
    let mut stable_since = Instant::now();
    loop {
        let (st, row) = replica_status(&mut db)
            .await?
            .ok_or_else(|| PhaseError(format!("{}: no longer a replica", s.display_name())))?;
        if delayed {
            let slave_pos = gtid_var(&mut db, "gtid_slave_pos").await?;
            let lsu = log_slave_updates(&mut db).await?;
            db.disconnect().await;
            info!(
                "{}: delayed replica (SQL_Delay={}): not waited for, executed {}",
                s.display_name(),
                st.sql_delay,
                st.exec_pos
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            return Ok(Applied {
                idx,
                status: st,
                slave_pos,
                log_slave_updates: lsu,
                delayed: true,
            });
        }
        if !st.sql_running() {
            return Err(PhaseError(format!(
                "{}: SQL thread stopped: {}",
                s.display_name(),
                st.last_sql_error
            )));
        }
        let state = row
            .get("Slave_SQL_Running_State")
            .cloned()
            .flatten()
            .unwrap_or_default();
        let idle = state.contains("read all relay log");
        // What the IO thread received, as whole transactions (MariaDB moves Gtid_IO_Pos at the
        // end of an event group, so a transaction torn by the crash is not in it). Applied
        // means gtid_slave_pos reached it: with parallel replication the SQL thread reads
        // all of the relay log while workers still apply, so its state and a steady
        // position prove nothing.
        let received = row
            .get("Gtid_IO_Pos")
            .cloned()
            .flatten()
            .and_then(|t| MariaGtidPos::parse(&t).ok())
            .filter(|p| !p.is_empty() && st.uses_gtid());
        let applied = match &received {
            Some(io) => {
                let slave_pos = gtid_var(&mut db, "gtid_slave_pos").await?;
                let have = slave_pos.domain_max();
                io.domain_max()
                    .iter()
                    .all(|(d, n)| have.get(d).is_some_and(|h| h >= n))
            }
            // File/position replication (no Gtid_IO_Pos): the positions, as before.
            None => {
                st.exec_pos == st.read_pos
                    || (idle
                        && last_exec == st.exec_pos
                        && stable_since.elapsed() > Duration::from_millis(300))
            }
        };
        if applied {
            // The status read above may predate the last commit (a worker may have finished
            // between the two reads): read the positions again, now that all is applied.
            let st = match (&received, replica_status(&mut db).await?) {
                (Some(_), Some((now, _))) => now,
                _ => st,
            };
            let slave_pos = gtid_var(&mut db, "gtid_slave_pos").await?;
            let lsu = log_slave_updates(&mut db).await?;
            db.disconnect().await;
            return Ok(Applied {
                idx,
                status: st,
                slave_pos,
                log_slave_updates: lsu,
                delayed: false,
            });
        }
        if last_exec != st.exec_pos {
            last_exec = st.exec_pos.clone();
            stable_since = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(PhaseError(format!(
                "{}: relay log not applied after 10 minutes",
                s.display_name()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn log_slave_updates(db: &mut Session) -> PResult<bool> {
    Ok(db.log_slave_updates().await? == Some(true))
}

/// A host holding the dead master's binlog files, read over SSH: the dead master itself or a
/// binlog server (`[binlogN]`, e.g. `mariadb-binlog --read-from-remote-server --raw
/// --stop-never`), whose files carry the master's names and offsets.
struct BinlogSource<'a> {
    /// For messages and the record: `dead master db1(10.0.0.1:3306)`, `binlog server binlog1(...)`.
    label: String,
    /// Names the saved files.
    file_tag: String,
    ssh: &'a crate::config::SshConfig,
    dirs: &'a [PathBuf],
}

impl<'a> BinlogSource<'a> {
    fn dead_master(s: &'a ServerConfig) -> Self {
        BinlogSource {
            label: format!("dead master {}", s.display_name()),
            file_tag: format!("master_binlog_from_{}_{}", s.hostname, s.port),
            ssh: &s.ssh,
            dirs: &s.master_binlog_dir,
        }
    }

    fn binlog_server(b: &'a crate::config::BinlogServerConfig) -> Self {
        BinlogSource {
            label: b.label(),
            file_tag: format!("binlog_server_{}_{}", b.block, b.hostname),
            ssh: &b.ssh,
            dirs: &b.master_binlog_dir,
        }
    }
}

/// What `save_binlog_tail` saved from one source.
#[derive(Debug, Clone)]
struct SavedTail {
    /// One readable binlog file per binlog file of the source, in order.
    files: Vec<PathBuf>,
    /// The GTIDs of the whole transactions saved, in order.
    gtids: Vec<String>,
    /// The master's binlog coordinate right after the last event saved (`from` when nothing
    /// followed it): how far this source reaches.
    end: BinlogPos,
}

/// The master's binlog from `from` to its end, read over SSH from `src`: one readable file per
/// binlog file (the first with its format description header prepended). Only the tail of the
/// first file travels, not the whole file.
async fn save_binlog_tail(
    src: &BinlogSource<'_>,
    from: &BinlogPos,
    workdir: &Path,
) -> PResult<SavedTail> {
    let s = crate::ssh::pool::pool()
        .session(src.ssh)
        .await
        .map_err(|e| PhaseError(format!("{}: {e}", src.label)))?;
    let timeout = Duration::from_secs(120);
    // One round trip: the directory holding the file, then that directory's listing.
    let find =
        super::check_repl::in_first_dir_holding(src.dirs, &from.file, "echo \"$d\"; ls -1 \"$d\"");
    let err = |e: crate::ssh::SshError| PhaseError(format!("{}: {e}", src.label));
    let out = s.exec(&find, timeout).await.map_err(err)?;
    if !out.success() {
        return Err(PhaseError(format!(
            "{}: {} not found in master_binlog_dir ({})",
            src.label,
            from.file,
            src.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = listing.lines();
    let dir = lines.next().unwrap_or_default().trim().to_string();
    let (prefix, first_no) = from
        .file
        .rsplit_once('.')
        .map(|(p, n)| (p.to_string(), n.parse::<u64>().unwrap_or(0)))
        .unwrap_or_default();
    let mut files: Vec<(u64, String)> = lines
        .filter_map(|l| {
            let (p, n) = l.rsplit_once('.')?;
            let n: u64 = n.parse().ok()?;
            (p == prefix).then(|| (n, l.to_string()))
        })
        .filter(|(n, _)| *n >= first_no)
        .collect();
    files.sort();
    let ts = now_unix();
    let mut saved = Vec::new();
    let mut gtids = Vec::new();
    let mut end = from.clone();
    for (k, (_, name)) in files.iter().enumerate() {
        let path_q = crate::hooks::shell_quote(&format!("{dir}/{name}"));
        let path = format!("{dir}/{name}");
        // One round trip per file: "<header length> <file size>", the header (magic number
        // and format description event, always at the start), then the bytes from the
        // position on (the first file) or the whole file (the later ones).
        let tail_from = if k == 0 { from.pos as usize } else { 0 };
        let cmd = format!(
            "h=$(head -c 65536 {path_q} | wc -c); n=$(wc -c < {path_q}); echo \"$h $n\"; head -c \"$h\" {path_q}; tail -c +{} {path_q}",
            tail_from + 1
        );
        let got = s.exec(&cmd, timeout).await.map_err(err)?.stdout;
        let bad = |why: String| PhaseError(format!("{}: {path}: {why}", src.label));
        let nl = got
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad("no output".into()))?;
        let sizes: Vec<usize> = String::from_utf8_lossy(&got[..nl])
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let [head_len, size] = sizes[..] else {
            return Err(bad(format!(
                "unexpected output {:?}",
                String::from_utf8_lossy(&got[..nl])
            )));
        };
        if size < tail_from {
            return Err(bad(format!(
                "shorter ({size} bytes) than the position {tail_from}"
            )));
        }
        let body = &got[nl + 1..];
        if body.len() < head_len {
            return Err(bad("output cut short".into()));
        }
        let (head, rest) = body.split_at(head_len);
        let fde_end = binlog::format_description_end(head).map_err(|e| bad(e.to_string()))?;
        let start = tail_from.max(fde_end);
        let events: &[u8] = rest.get(start - tail_from..).unwrap_or_default();
        let whole = binlog::complete_events_len(events);
        if whole < events.len() {
            warn!(
                "{}: {path}: the last {} bytes are a torn event (crash); cut at offset {}",
                src.label,
                events.len() - whole,
                start + whole
            );
        }
        let mut events = &events[..whole];
        // Its events are whole, but its XID (COMMIT) was never written: applied, it would be
        // rolled back; it was never acknowledged. Not applied, not listed.
        if let Some((gtid, at)) = binlog::torn_group(events) {
            warn!(
                "{}: {path}: transaction {gtid} has no end (a crash during its write): not applied; cut at offset {}",
                src.label,
                start + at
            );
            events = &events[..at];
        }
        if events.is_empty() {
            continue;
        }
        gtids.extend(binlog::mariadb_gtids(events));
        end = BinlogPos::new(name.clone(), (start + events.len()) as u64);
        let mut out = head[..fde_end].to_vec();
        out.extend_from_slice(events);
        let local = workdir.join(format!("saved_{}_{ts}_{}.binlog", src.file_tag, k + 1));
        std::fs::write(&local, out).map_err(|e| PhaseError(format!("{}: {e}", local.display())))?;
        saved.push(local);
    }
    Ok(SavedTail {
        files: saved,
        gtids,
        end,
    })
}

fn client_defaults(workdir: &Path, s: &ServerConfig) -> PResult<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut f = tempfile::Builder::new()
        .prefix(".mha-client-")
        .tempfile_in(workdir)
        .map_err(|e| PhaseError(e.to_string()))?;
    // The password goes in a private option file, never on a command line.
    let pw = s
        .password
        .expose()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    writeln!(
        f,
        "[client]\nuser=\"{}\"\npassword=\"{pw}\"\nhost={}\nport={}\nprotocol=tcp",
        s.user, s.ip, s.port
    )
    .map_err(|e| PhaseError(e.to_string()))?;
    Ok(f)
}

/// Apply saved binlog files to `s` with the server's own tools, as MHA did.
async fn apply_binlogs(s: &ServerConfig, files: &[PathBuf], workdir: &Path) -> PResult<()> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(n))
                    .find(|p| p.is_file())
            })
        })
    };
    let binlog_tool = find(&["mariadb-binlog", "mysqlbinlog"]).ok_or_else(|| PhaseError("mariadb-binlog (mysqlbinlog) is not installed on the manager host: apt-get install mariadb-client".into()))?;
    let client = find(&["mariadb", "mysql"]).ok_or_else(|| PhaseError("the mariadb (mysql) client is not installed on the manager host: apt-get install mariadb-client".into()))?;
    let defaults = client_defaults(workdir, s)?;
    let decoded = tokio::process::Command::new(&binlog_tool)
        .args(files)
        .output()
        .await
        .map_err(|e| PhaseError(e.to_string()))?;
    if !decoded.status.success() {
        return Err(PhaseError(format!(
            "{} failed: {}",
            binlog_tool.display(),
            String::from_utf8_lossy(&decoded.stderr).trim()
        )));
    }
    let mut child = tokio::process::Command::new(&client)
        .arg(format!(
            "--defaults-extra-file={}",
            defaults.path().display()
        ))
        .arg("--binary-mode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PhaseError(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(&decoded.stdout)
        .await
        .map_err(|e| PhaseError(e.to_string()))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| PhaseError(e.to_string()))?;
    if !out.status.success() {
        return Err(PhaseError(format!(
            "applying the saved binlog on {} failed: {}",
            s.display_name(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

async fn wait_gtid(db: &mut Session, pos: &MariaGtidPos, secs: u64) -> PResult<()> {
    db.wait_gtid(pos, secs)
        .await
        .map_err(|e| PhaseError(e.to_string()))
}

async fn wait_threads(db: &mut Session) -> PResult<()> {
    let start = Instant::now();
    loop {
        if let Some((st, _)) = replica_status(db).await? {
            if st.io_running() && st.sql_running() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(PhaseError(format!(
                    "{}: replication did not start (IO {}, SQL {}): {} {}",
                    db.server(),
                    st.io_running,
                    st.sql_running,
                    st.last_io_error,
                    st.last_sql_error
                )));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The saved transactions (`gtids`, `domain-server-seq`) that `after` covers and `before` did
/// not: what applying the tail actually committed.
fn landed(gtids: &[String], before: &MariaGtidPos, after: &MariaGtidPos) -> Vec<String> {
    gtids
        .iter()
        .filter(|g| {
            let Ok(one) = MariaGtidPos::parse(g) else {
                return false;
            };
            one.not_in(after).is_empty() && !one.not_in(before).is_empty()
        })
        .cloned()
        .collect()
}

/// The new master's GTID state after phase 3.4.
struct NewMasterPos {
    /// gtid_binlog_pos: what replicas can fetch from it.
    binlog: MariaGtidPos,
    /// gtid_current_pos: what it has executed, binlogged or not.
    executed: MariaGtidPos,
    /// With log_slave_updates=OFF, its gtid_slave_pos: what it got by replication is not in its
    /// binlog, so a replica behind that position can never get it from there.
    replicated_unlogged: Option<MariaGtidPos>,
}

/// The domains (with the new master's last sequence number) in which `replica` is behind
/// `replicated`: transactions it would have to fetch and cannot.
fn behind_in(replicated: &MariaGtidPos, replica: &MariaGtidPos) -> Vec<String> {
    let have = replica.domain_max();
    replicated
        .domain_max()
        .into_iter()
        .filter(|(d, n)| have.get(d).is_none_or(|m| m < n))
        .map(|(d, n)| format!("domain {d} up to sequence {n}"))
        .collect()
}

/// One other replica: fetch what it lacks from the new master, then (file/position mode)
/// switch to the new master's binlog coordinates. A delayed replica (`delayed`: its SQL_Delay)
/// is repointed by GTID with its delay kept (CHANGE MASTER keeps MASTER_DELAY) and never waited
/// for: it would reach the new master's position only after the delay.
#[allow(clippy::too_many_arguments)]
async fn recover_replica(
    s: ServerConfig,
    new: ServerConfig,
    repl_user: Option<String>,
    repl_password: Option<Secret>,
    target: NewMasterPos,
    coords: BinlogPos,
    mode: Mode,
    wait_in_sync: bool,
    delayed: Option<u64>,
) -> PResult<String> {
    let mut db = session(&s).await?;
    let heartbeat = db.heartbeat_period().await;
    db.stop_replica().await?;
    let before = gtid_var(&mut db, "gtid_slave_pos").await?;
    // What it lacks must be in the new master's binlog, or it can never arrive (a new master
    // with log_slave_updates=OFF does not write what it replicated). Never report such a
    // replica as recovered.
    if let Some(replicated) = &target.replicated_unlogged {
        let missing = behind_in(replicated, &before);
        if !missing.is_empty() {
            return Err(PhaseError(format!(
                "{} lacks transactions ({}) that the new master {} replicated but did not write to its binlog (log_slave_updates=OFF): it cannot catch up from it; rebuild it from the new master",
                s.display_name(),
                missing.join(", "),
                new.display_name()
            )));
        }
    }
    let target_pos = target.executed.union(&target.binlog).last_per_domain();
    db.point_at(
        Toward::NewMaster,
        &new,
        repl_user.as_deref(),
        repl_password.as_ref(),
        &StartAt::Gtid,
        heartbeat,
    )
    .await?;
    db.start_replica().await?;
    if delayed.is_none() && (wait_in_sync || mode == Mode::FilePos) {
        wait_gtid(&mut db, &target_pos, 120).await?;
    }
    if delayed.is_none() && mode == Mode::FilePos {
        // Identical to the new master now: continue from its binlog coordinates.
        db.stop_replica().await?;
        db.point_at(
            Toward::NewMasterCoordinates,
            &new,
            None,
            None,
            &StartAt::Coords(coords.clone()),
            heartbeat,
        )
        .await?;
        db.start_replica().await?;
    }
    wait_threads(&mut db).await?;
    let after = gtid_var(&mut db, "gtid_slave_pos").await?;
    db.disconnect().await;
    let gained = after.not_in(&before);
    let mut detail = format!("Slave started, replicating from {}", new.display_name());
    if let Some(secs) = delayed {
        detail.push_str(&format!(
            "; delayed replica: SQL_Delay={secs} kept, not waited for{}",
            if mode == Mode::FilePos {
                " (left on GTID: it cannot take the new master's coordinates before it has caught up)"
            } else {
                ""
            }
        ));
    }
    if !gained.is_empty() {
        detail.push_str(&format!("; recovered up to {gained} from the new master"));
    }
    Ok(detail)
}

/// Of the tails saved from binlog servers (in configuration order), the most complete: the
/// one reaching furthest in the master's binlog, then the one with more transactions, then
/// the first. With it, a sentence per other tail holding transactions it lacks: copies of one
/// binlog should never disagree, and what only another holds is not applied.
fn most_complete(tails: &[(String, SavedTail)]) -> Option<(usize, Vec<String>)> {
    let mut best: Option<usize> = None;
    for (i, (_, t)) in tails.iter().enumerate() {
        let better = best.is_none_or(|b| {
            let bt = &tails[b].1;
            (&t.end, t.gtids.len()) > (&bt.end, bt.gtids.len())
        });
        if better {
            best = Some(i);
        }
    }
    let b = best?;
    let (best_label, best_tail) = &tails[b];
    let disagree = tails
        .iter()
        .filter(|(l, _)| l != best_label)
        .filter_map(|(l, t)| {
            let lacking: Vec<&str> = t
                .gtids
                .iter()
                .filter(|g| !best_tail.gtids.contains(g))
                .map(String::as_str)
                .collect();
            (!lacking.is_empty()).then(|| {
                format!(
                    "{l} holds transactions {} that {best_label} (the most complete, applied) does not: they were not applied",
                    lacking.join(",")
                )
            })
        })
        .collect();
    Some((b, disagree))
}

/// Phase 3.2's stop: the dead master's host answers SSH, yet its binlog could not be read and
/// no binlog server supplied it. Says what phase 2 already did, since nothing is undone.
fn stop_before_promotion(
    config: &Config,
    dead: &ServerConfig,
    from: &BinlogPos,
    failures: &[String],
) -> PhaseError {
    let dirs: Vec<String> = dead
        .master_binlog_dir
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let mut phase2 = vec!["the replicas' IO threads are stopped".to_string()];
    if config.app.master_ip_failover_script.is_some() {
        phase2.push("master_ip_failover_script --command=stopssh ran".into());
    }
    if config.app.shutdown_script.is_some() {
        phase2.push("shutdown_script --command=stopssh ran".into());
    }
    PhaseError(format!(
        "Failover stopped before promotion: the dead master {} is down but its host {} answers SSH, and its binlog file {} (from position {}) could not be read from master_binlog_dir ({}): {}. Nothing was promoted. Phase 2 already ran and nothing was restarted: {}. Fix master_binlog_dir (or the file's permissions) and fail over again with --ignore_last_failover, or fail over without those events with --ignore_binlog_save_error (they are then lost).",
        dead.display_name(),
        dead.ssh.host,
        from.file,
        from.pos,
        dirs.join(", "),
        failures.join("; "),
        phase2.join(", ")
    ))
}

pub async fn failover(config: &Config, opts: &FailoverOptions) -> FailoverRecord {
    let mut run = Run {
        config,
        opts,
        rec: FailoverRecord::new(&config.app_name, now_unix()),
        started: Instant::now(),
    };
    let _ = std::fs::create_dir_all(&opts.workdir);
    let mut changed = false;
    let result = steps(&mut run, &mut changed).await;
    run.rec.total_ms = run.started.elapsed().as_millis() as u64;
    if let Err(e) = result {
        error!("{e}");
        run.rec.error = Some(e.0);
        run.rec.outcome = if run.rec.outcome == Outcome::StoppedBeforePromotion {
            Outcome::StoppedBeforePromotion
        } else if changed {
            Outcome::Failed
        } else {
            Outcome::Refused
        };
        if changed {
            let _ = std::fs::write(
                error_marker(&opts.workdir, &config.app_name),
                format!("{}\n", now_unix()),
            );
        }
    }
    finish(&mut run).await;
    run.rec
}

/// What a phase body hands back: its value, whether it fully succeeded, and its notes.
struct Done<T> {
    value: T,
    ok: bool,
    notes: Vec<String>,
}

fn done<T>(value: T, notes: Vec<String>) -> Done<T> {
    Done {
        value,
        ok: true,
        notes,
    }
}

/// Runs one phase body inside its own tracing span (`phase{phase="3.4" name="New Master
/// Recovery"}`), then records its duration, outcome and notes. An error marks the phase failed
/// and ends the failover with it.
macro_rules! phase {
    ($run:ident, $id:literal, $name:literal, $body:expr) => {{
        info!(concat!("* Phase ", $id, ": ", $name, " Phase.."));
        let t = Instant::now();
        let span = tracing::info_span!("phase", phase = $id, name = $name);
        let r: PResult<Done<_>> = async { $body }.instrument(span).await;
        match r {
            Ok(d) => {
                $run.phase_done($id, $name, t, d.ok, d.notes);
                d.value
            }
            Err(e) => {
                $run.phase_done($id, $name, t, false, vec![e.0.clone()]);
                return Err(e);
            }
        }
    }};
}

async fn steps(run: &mut Run<'_>, changed: &mut bool) -> PResult<()> {
    let config = run.config;
    let facts = phase!(run, "1", "Configuration Check", {
        Ok(done(phase1(&mut *run).await?, vec![]))
    });
    let dead_cfg = run.server(facts.topo.servers[facts.dead].order).clone();
    if run.opts.dry_run {
        return dry_run(run, &facts, &dead_cfg).await;
    }

    let flag = error_marker(&run.opts.workdir, &config.app_name);
    if let Err(e) = std::fs::write(&flag, format!("{RUNNING_PREFIX}{}\n", std::process::id())) {
        return Err(PhaseError(format!(
            "cannot write the failover flag file {}: {e}",
            flag.display()
        )));
    }
    *changed = true;
    let ssh_ok = phase!(run, "2", "Dead Master Shutdown", {
        let (ssh_ok, fenced) = phase2(&mut *run, &facts).await?;
        Ok(done(
            ssh_ok,
            vec![
                format!(
                    "SSH to the dead master: {}",
                    if ssh_ok { "reachable" } else { "NOT reachable" }
                ),
                fenced,
            ],
        ))
    });

    info!("* Phase 3: Master Recovery Phase..");
    let (applied, latest) = phase!(run, "3.1", "Getting Latest Slaves", {
        let mut set = JoinSet::new();
        for &i in &facts.replicas {
            let s = run.server(facts.topo.servers[i].order).clone();
            let delayed = facts.topo.servers[i]
                .alive()
                .and_then(|o| o.replica.as_ref())
                .is_some_and(|r| r.sql_delay > 0);
            set.spawn(async move { wait_applied(&s, i, delayed).await });
        }
        let mut applied = Vec::new();
        while let Some(r) = set.join_next().await {
            applied.push(r.map_err(|e| PhaseError(e.to_string()))??);
        }
        applied.sort_by_key(|a| facts.topo.servers[a.idx].order);
        // A delayed replica has not applied what it received: the others cannot copy it from
        // its binlog, so it is never the latest.
        let latest = applied
            .iter()
            .filter(|a| !a.delayed)
            .max_by(|a, b| {
                a.status.read_pos.cmp(&b.status.read_pos).then(
                    facts.topo.servers[b.idx]
                        .order
                        .cmp(&facts.topo.servers[a.idx].order),
                )
            })
            .ok_or_else(|| {
                PhaseError(
                    "every replica is delayed (MASTER_DELAY): none has applied what it received"
                        .into(),
                )
            })?
            .clone();
        let name = facts.topo.servers[latest.idx].name();
        let read = latest
            .status
            .read_pos
            .clone()
            .unwrap_or_else(|| BinlogPos::new("", 0));
        let exec = latest
            .status
            .exec_pos
            .clone()
            .unwrap_or_else(|| BinlogPos::new("", 0));
        info!("The latest binary log file/position on all slaves is {read}, on {name}.");
        run.rec.latest_replica = Some(name.clone());
        let note = format!("latest: {name} read {read}, executed {exec}");
        Ok(done((applied, latest), vec![note]))
    });
    let latest_name = facts.topo.servers[latest.idx].name();
    let latest_exec = latest
        .status
        .exec_pos
        .clone()
        .unwrap_or_else(|| BinlogPos::new("", 0));

    // 3.2: the dead master's binlog after what the latest replica executed.
    let (saved, tail_gtids, saved_from) = phase!(run, "3.2", "Saving Dead Master's Binlog", {
        let mut saved: Vec<PathBuf> = Vec::new();
        let mut tail_gtids: Vec<String> = Vec::new();
        let mut saved_from = String::new();
        let mut notes = Vec::new();
        if run.opts.skip_save_master_binlog {
            notes.push("skipped (--skip_save_master_binlog)".to_string());
            run.rec.not_recovered.push(format!(
                "events after {latest_exec} on the dead master (saving skipped)"
            ));
        } else {
            // The dead master itself when its host answers; else (or if that fails) every
            // binlog server, read in parallel: the one whose copy reaches furthest wins, not
            // the first that answers (a lagging one would hide what the others received).
            let mut failures = Vec::new();
            let mut chosen: Option<(String, bool, SavedTail)> = None;
            if ssh_ok {
                let src = BinlogSource::dead_master(&dead_cfg);
                match save_binlog_tail(&src, &latest_exec, &run.opts.workdir).await {
                    Ok(t) => chosen = Some((src.label, true, t)),
                    Err(e) => {
                        warn!("could not save the binlog: {e}");
                        notes.push(format!("failed: {e}"));
                        failures.push(e.0);
                    }
                }
            } else {
                warn!(
                    "SSH to the dead master is NOT reachable: events after {latest_exec} cannot be read from it"
                );
                notes.push("dead master host not reachable over SSH".to_string());
            }
            if chosen.is_none() && !config.binlog_servers.is_empty() {
                let mut set = JoinSet::new();
                for (k, b) in config.binlog_servers.iter().cloned().enumerate() {
                    let (from, workdir) = (latest_exec.clone(), run.opts.workdir.clone());
                    set.spawn(
                        async move {
                            let src = BinlogSource::binlog_server(&b);
                            let r = save_binlog_tail(&src, &from, &workdir).await;
                            (k, src.label, r)
                        }
                        .in_current_span(),
                    );
                }
                let mut got = Vec::new();
                while let Some(r) = set.join_next().await {
                    let (k, label, r) = r.map_err(|e| PhaseError(e.to_string()))?;
                    match r {
                        Ok(t) => {
                            info!(
                                "{label}: holds the master's binlog up to {} ({} transaction(s) after {latest_exec})",
                                t.end,
                                t.gtids.len()
                            );
                            notes.push(format!(
                                "{label}: up to {}, {} transaction(s)",
                                t.end,
                                t.gtids.len()
                            ));
                            got.push((k, label, t));
                        }
                        Err(e) => {
                            warn!("could not save the binlog: {e}");
                            notes.push(format!("failed: {e}"));
                            failures.push(e.0);
                        }
                    }
                }
                got.sort_by_key(|(k, _, _)| *k);
                let tails: Vec<(String, SavedTail)> =
                    got.into_iter().map(|(_, l, t)| (l, t)).collect();
                if let Some((best, disagree)) = most_complete(&tails) {
                    for d in disagree {
                        warn!("binlog servers disagree: {d}");
                        notes.push(format!("binlog servers disagree: {d}"));
                        run.rec.not_recovered.push(d);
                    }
                    if tails.len() > 1 {
                        info!(
                            "{} is the most complete binlog server (up to {})",
                            tails[best].0, tails[best].1.end
                        );
                    }
                    let (label, t) = tails[best].clone();
                    chosen = Some((label, false, t));
                }
            }
            if let Some((label, is_master, t)) = chosen {
                if t.files.is_empty() {
                    // MHA's words for the dead master.
                    let from = if is_master {
                        "the orig master".to_string()
                    } else {
                        label.clone()
                    };
                    info!("Additional events were not found from {from}. No need to save.");
                } else {
                    info!(
                        "Saved {} transaction(s) after {latest_exec} from {label}",
                        t.gtids.len(),
                    );
                }
                notes.extend(t.files.iter().map(|f| format!("saved {}", f.display())));
                saved = t.files;
                tail_gtids = t.gtids;
                saved_from = label;
            }
            if saved_from.is_empty() && ssh_ok {
                // The events are on a host that answers: losing them is a choice, not a fate
                // (MHA stopped here too).
                if !run.opts.ignore_binlog_save_error {
                    run.rec.outcome = Outcome::StoppedBeforePromotion;
                    return Err(stop_before_promotion(
                        config,
                        &dead_cfg,
                        &latest_exec,
                        &failures,
                    ));
                }
                warn!(
                    "the dead master's binlog could not be saved; going on without it (--ignore_binlog_save_error): events after {latest_exec} are lost"
                );
                notes.push("going on without the binlog (--ignore_binlog_save_error)".into());
            }
            if saved_from.is_empty() {
                run.rec.not_recovered.push(if ssh_ok || !failures.is_empty() {
                    format!(
                        "events after {latest_exec} on the dead master {}{}: {}",
                        dead_cfg.display_name(),
                        if ssh_ok {
                            " (its binlog could not be read; --ignore_binlog_save_error)"
                        } else {
                            " (its host is not reachable over SSH)"
                        },
                        failures.join("; ")
                    )
                } else {
                    format!(
                        "events the dead master {} wrote after {latest_exec} (its host is not reachable over SSH): transactions committed there after that point are lost",
                        dead_cfg.display_name()
                    )
                });
            } else if !ssh_ok {
                run.rec.not_recovered.push(format!(
                    "anything the dead master {} wrote after the last event {saved_from} had received cannot be known (its host is not reachable over SSH)",
                    dead_cfg.display_name()
                ));
            }
        }
        Ok(done((saved, tail_gtids, saved_from), notes))
    });

    // 3.3: the new master.
    let (topo, new_idx, new_cfg) = phase!(run, "3.3", "Determining New Master", {
        let mut topo = facts.topo.clone();
        for a in &applied {
            if let Ok(s) = &mut topo.servers[a.idx].state
                && let Some(r) = &mut s.replica
            {
                *r = a.status.clone();
            }
        }
        let mut facts_e = checks::replica_facts(&topo, config, Some(facts.dead));
        for f in &mut facts_e {
            f.alive = f.alive && applied.iter().any(|a| topo.servers[a.idx].block == f.block);
        }
        let forced = match &run.opts.new_master {
            Some((host, port)) => {
                let hit = topo.servers.iter().find(|o| {
                    (o.hostname == *host || o.ip == *host) && port.is_none_or(|p| p == o.port)
                });
                match hit {
                    Some(o) => Some(o.block.clone()),
                    None => return Err(PhaseError(format!("{host} is not a configured server"))),
                }
            }
            None => None,
        };
        let ranking = elect::rank(&facts_e, forced.as_deref());
        run.rec.ranking = Some(ranking.clone());
        let Some(winner) = ranking.winner().cloned() else {
            return Err(PhaseError(match &forced {
                Some(f) => format!("{f} is bad as a new master!"),
                None => "None of existing slaves matches as a new master. Maybe preferred node is misconfigured or all slaves are too far behind.".into(),
            }));
        };
        let new_idx = topo
            .servers
            .iter()
            .position(|o| o.block == winner.block)
            .expect("ranked server exists");
        let new_cfg = run.server(topo.servers[new_idx].order).clone();
        run.rec.new_master = Some(new_cfg.display_name());
        info!("New master is {}", new_cfg.display_name());
        let note = format!("{} {}", winner.block, winner.name);
        Ok(done((topo, new_idx, new_cfg), vec![note]))
    });

    // 3.4: bring the new master up to the latest replica, then apply the saved tail.
    let (new_pos, new_current, replicated_unlogged, coords) = phase!(
        run,
        "3.4",
        "New Master Recovery",
        {
            let new_applied = applied
                .iter()
                .find(|a| a.idx == new_idx)
                .expect("new master is a replica")
                .clone();
            let mut db = session(&new_cfg).await?;
            db.stop_replica().await?;
            let mut notes = Vec::new();
            if new_applied.delayed {
                // Chosen with --new_master_host: it catches up from the latest replica at
                // once, not MASTER_DELAY seconds later.
                warn!(
                    "{} is a delayed replica (SQL_Delay={}): its delay is lifted to catch up",
                    new_cfg.display_name(),
                    new_applied.status.sql_delay
                );
                db.lift_replica_delay().await?;
                notes.push(format!(
                    "delayed replica (SQL_Delay={}) chosen with --new_master_host: delay lifted",
                    new_applied.status.sql_delay
                ));
            }
            let before = gtid_var(&mut db, "gtid_binlog_pos").await?;
            let behind = latest.slave_pos.not_in(&new_applied.slave_pos);
            if new_idx != latest.idx && !behind.is_empty() {
                if !latest.log_slave_updates {
                    return Err(PhaseError(format!(
                        "{latest_name} has log_slave_updates=OFF: the new master cannot copy what it lacks from it"
                    )));
                }
                let latest_cfg = run.server(topo.servers[latest.idx].order).clone();
                info!(
                    "{} is behind {latest_name} by {behind}: catching up from it",
                    new_cfg.display_name()
                );
                let repl_user = new_cfg
                    .repl_user
                    .clone()
                    .or_else(|| Some(new_applied.status.master_user.clone()));
                db.point_at(
                    Toward::LatestReplica,
                    &latest_cfg,
                    repl_user.as_deref(),
                    new_cfg.repl_password.as_ref(),
                    &StartAt::Gtid,
                    None,
                )
                .await?;
                db.start_replica().await?;
                wait_gtid(&mut db, &latest.slave_pos, 120).await?;
                db.stop_replica().await?;
                notes.push(format!("copied {behind} from {latest_name}"));
            }
            let after_catchup = gtid_var(&mut db, "gtid_binlog_pos").await?;
            let from_latest = after_catchup.not_in(&before);
            if !from_latest.is_empty() {
                run.rec.recovered.push(Recovered {
                    from: format!("latest replica {latest_name}"),
                    gtids: from_latest.to_string(),
                });
            }
            if !saved.is_empty() {
                info!(
                    "Applying the dead master's saved binlog ({} transaction(s)) on {}",
                    tail_gtids.len(),
                    new_cfg.display_name()
                );
                apply_binlogs(&new_cfg, &saved, &run.opts.workdir)
                    .await
                    .map_err(|e| {
                        PhaseError(format!(
                            "{e}. NOTICE: manual recovery is needed on {}",
                            new_cfg.display_name()
                        ))
                    })?;
                let after_tail = gtid_var(&mut db, "gtid_binlog_pos").await?;
                // What landed, not what the files held: the saved transactions the new
                // master's gtid_binlog_pos now covers and did not before.
                let from_tail = after_tail.not_in(&after_catchup);
                let landed = landed(&tail_gtids, &after_catchup, &after_tail);
                if landed.len() != tail_gtids.len() {
                    warn!(
                        "{} of the {} saved transaction(s) landed on {}: {}",
                        landed.len(),
                        tail_gtids.len(),
                        new_cfg.display_name(),
                        landed.join(",")
                    );
                }
                if !from_tail.is_empty() {
                    run.rec.recovered.push(Recovered {
                        from: format!("{saved_from} binlog (over SSH)"),
                        gtids: if landed.is_empty() {
                            from_tail.to_string()
                        } else {
                            landed.join(",")
                        },
                    });
                }
                notes.push(format!("applied {} saved transaction(s)", landed.len()));
            }
            if !new_cfg.skip_reset_slave {
                db.reset_replica_all().await?;
            }
            // The saved tail was applied by a client session: its GTIDs reached
            // gtid_binlog_pos, not gtid_slave_pos. Should this server replicate again later
            // (MASTER_USE_GTID=slave_pos: a switch back), it must not ask for them again.
            db.slave_pos_covers_binlog().await?;
            let new_pos = gtid_var(&mut db, "gtid_binlog_pos").await?;
            // What it has executed, binlogged or not: where every replica must end.
            let new_current = gtid_var(&mut db, "gtid_current_pos").await?;
            let replicated_unlogged = if db.log_slave_updates().await? == Some(false) {
                Some(gtid_var(&mut db, "gtid_slave_pos").await?)
            } else {
                None
            };
            let coords = db.binlog_coords().await?;
            db.disconnect().await;
            info!(
                "{}: OK: Applying all logs succeeded. GTID position {new_pos}, binlog {coords}",
                new_cfg.display_name()
            );
            Ok(done(
                (new_pos, new_current, replicated_unlogged, coords),
                notes,
            ))
        }
    );

    // Phase 4: every other replica, in parallel.
    // Phase 5 runs beside phase 4: the new master takes writes, and the VIP moves, as soon as
    // it is recovered; the other replicas are repointed meanwhile (they follow it by GTID or
    // from the coordinates read above, whatever it takes in the meantime).
    let t5 = Instant::now();
    let p5 = phase5(config, &dead_cfg, &new_cfg, run.opts.skip_disable_read_only).instrument(
        tracing::info_span!("phase", phase = "5", name = "New master cleanup"),
    );
    let mut p5_out: Option<(PResult<Done<bool>>, Instant)> = None;
    let replicas_failed = phase!(run, "4", "Slaves Recovery", {
        let mut set = JoinSet::new();
        if !run.opts.skip_change_master {
            for a in applied.iter().filter(|a| a.idx != new_idx) {
                let s = run.server(topo.servers[a.idx].order).clone();
                let repl_user = s
                    .repl_user
                    .clone()
                    .or_else(|| Some(a.status.master_user.clone()));
                let repl_password = s.repl_password.clone();
                let delayed = a.delayed.then_some(a.status.sql_delay);
                let (new, pos, coords, mode, sync) = (
                    new_cfg.clone(),
                    NewMasterPos {
                        binlog: new_pos.clone(),
                        executed: new_current.clone(),
                        replicated_unlogged: replicated_unlogged.clone(),
                    },
                    coords.clone(),
                    facts.mode,
                    run.opts.wait_until_gtid_in_sync,
                );
                let name = s.display_name();
                set.spawn(
                    async move {
                        let r = recover_replica(
                            s,
                            new,
                            repl_user,
                            repl_password,
                            pos,
                            coords,
                            mode,
                            sync,
                            delayed,
                        )
                        .await;
                        (name, r)
                    }
                    .in_current_span(),
                );
            }
        }
        let collect = async {
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                out.push(r);
            }
            out
        };
        info!("* Phase 5: New master cleanup Phase..");
        let (joined, p5r) = tokio::join!(collect, p5);
        p5_out = Some((p5r, Instant::now()));
        let mut failed = false;
        for r in joined {
            let (name, res) = r.map_err(|e| PhaseError(e.to_string()))?;
            match res {
                Ok(detail) => {
                    info!("{name}: OK: {detail}");
                    run.rec.replicas.push(ReplicaResult {
                        server: name,
                        ok: true,
                        detail,
                    });
                }
                Err(e) => {
                    error!("{name}: recovery failed: {e}");
                    failed = true;
                    run.rec.replicas.push(ReplicaResult {
                        server: name,
                        ok: false,
                        detail: e.0,
                    });
                }
            }
        }
        run.rec.replicas.sort_by(|a, b| a.server.cmp(&b.server));
        Ok(Done {
            value: failed,
            ok: !failed,
            notes: vec![],
        })
    });

    let (p5r, p5_end) = p5_out.expect("phase 5 ran beside phase 4");
    let start_failed = match p5r {
        Ok(d) => {
            let ms = p5_end.duration_since(t5);
            run.phase_done_ms("5", "New master cleanup", ms, d.ok, d.notes);
            d.value
        }
        Err(e) => {
            run.phase_done_ms(
                "5",
                "New master cleanup",
                p5_end.duration_since(t5),
                false,
                vec![e.0.clone()],
            );
            return Err(e);
        }
    };
    let partial = replicas_failed || start_failed;
    run.rec.outcome = if !run.rec.not_recovered.is_empty() {
        Outcome::DataNotRecovered
    } else if partial {
        Outcome::Partial
    } else {
        Outcome::Success
    };
    if partial {
        warn!(
            "Master failover to {} done, but recovery on slave partially failed.",
            new_cfg.display_name()
        );
    }
    if run.rec.outcome == Outcome::DataNotRecovered {
        error!(
            "Master failover to {} done, but data was NOT recovered: {}",
            new_cfg.display_name(),
            run.rec.not_recovered.join("; ")
        );
    } else if !partial {
        info!(
            "Master failover to {} completed successfully.",
            new_cfg.display_name()
        );
    }
    Ok(())
}

/// Phase 5: the new master takes writes (read_only=0), then master_ip_failover_script
/// --command=start moves the VIP to it.
async fn phase5(
    config: &Config,
    dead_cfg: &ServerConfig,
    new_cfg: &ServerConfig,
    skip_disable_read_only: bool,
) -> PResult<Done<bool>> {
    let mut notes = Vec::new();
    let mut start_failed = false;
    if !skip_disable_read_only {
        let mut db = session(new_cfg).await?;
        db.set_read_only(false).await?;
        db.disconnect().await;
        notes.push(format!(
            "{}: read_only=0: the new master takes writes",
            new_cfg.display_name()
        ));
    }
    if let Some(cmd) = &config.app.master_ip_failover_script {
        let mut args = ip_failover_args("start", dead_cfg);
        args.extend([
            ("new_master_host".to_string(), new_cfg.hostname.clone()),
            ("new_master_ip".into(), new_cfg.ip.clone()),
            ("new_master_port".into(), new_cfg.port.to_string()),
            ("new_master_user".into(), new_cfg.user.clone()),
        ]);
        // ssh_options is one argument, already given with the old master's.
        args.extend(
            ssh_extras("new_master", new_cfg)
                .into_iter()
                .filter(|(k, _)| k != "ssh_options"),
        );
        let secrets = vec![(
            "MHA_NEW_MASTER_PASSWORD".to_string(),
            new_cfg.password.clone(),
        )];
        match run_hook(config, "master_ip_failover_script", cmd, args, secrets).await {
            Ok(0) => notes.push(format!(
                "{}: OK: Activated master IP address.",
                new_cfg.display_name()
            )),
            Ok(10) => {
                notes.push("master_ip_failover_script --command=start exited 10: proceeding".into())
            }
            Ok(c) => {
                error!("master_ip_failover_script --command=start failed (exit code {c})");
                notes.push(format!(
                    "master_ip_failover_script --command=start FAILED (exit code {c})"
                ));
                start_failed = true;
            }
            Err(e) => {
                error!("master_ip_failover_script --command=start failed: {e}");
                notes.push(format!(
                    "master_ip_failover_script --command=start FAILED ({e})"
                ));
                start_failed = true;
            }
        }
    }
    Ok(done(start_failed, notes))
}

async fn dry_run(run: &mut Run<'_>, f: &Facts, dead: &ServerConfig) -> PResult<()> {
    let config = run.config;
    let facts = checks::replica_facts(&f.topo, config, Some(f.dead));
    let forced = run.opts.new_master.as_ref().and_then(|(h, p)| {
        f.topo
            .servers
            .iter()
            .find(|o| (o.hostname == *h || o.ip == *h) && p.is_none_or(|p| p == o.port))
            .map(|o| o.block.clone())
    });
    let ranking = elect::rank(&facts, forced.as_deref());
    let ssh_ok = ssh_reachable(dead).await;
    let winner = ranking.winner().map(|w| format!("{} {}", w.block, w.name));
    run.rec.new_master = winner.clone();
    run.rec.ranking = Some(ranking);
    let latest = f
        .replicas
        .iter()
        .filter_map(|&i| {
            f.topo.servers[i]
                .alive()?
                .replica
                .as_ref()?
                .read_pos
                .clone()
        })
        .max();
    let mut plan = vec![
        format!(
            "Phase 2: STOP SLAVE IO_THREAD on {} replica(s)",
            f.replicas.len()
        ),
        format!(
            "Phase 2: SSH to the dead master {}: {}",
            dead.display_name(),
            if ssh_ok { "reachable" } else { "NOT reachable" }
        ),
        "Phase 3.1: wait until every replica has applied its relay log; find the latest".into(),
    ];
    let binlog_servers: Vec<String> = config
        .binlog_servers
        .iter()
        .map(crate::config::BinlogServerConfig::label)
        .collect();
    if ssh_ok && !run.opts.skip_save_master_binlog {
        plan.push(format!("Phase 3.2: save the dead master's binlog after the latest replica's position (now {}) over SSH", latest.map(|l| l.to_string()).unwrap_or_default()));
    } else if !run.opts.skip_save_master_binlog && !binlog_servers.is_empty() {
        plan.push(format!(
            "Phase 3.2: save the master's binlog after the latest replica's position (now {}) over SSH from the most complete of {}; what the dead master wrote after that server's last event cannot be known",
            latest.map(|l| l.to_string()).unwrap_or_default(),
            binlog_servers.join(", ")
        ));
    } else {
        plan.push("Phase 3.2: the dead master's binlog cannot be saved".into());
        run.rec.not_recovered.push(format!(
            "events on the dead master after {} would be lost",
            latest
                .map(|l| l.to_string())
                .unwrap_or_else(|| "the latest replica's position".into())
        ));
    }
    plan.push(format!(
        "Phase 3.3: promote {}",
        winner
            .clone()
            .unwrap_or_else(|| "NOBODY (no eligible replica)".into())
    ));
    plan.push("Phase 3.4: catch the new master up from the latest replica, apply the saved binlog, RESET SLAVE ALL".into());
    plan.push(format!(
        "Phase 4: repoint the other replicas at the new master ({})",
        if f.mode == Mode::Gtid {
            "GTID"
        } else {
            "GTID catch-up, then the new master's binlog coordinates"
        }
    ));
    plan.push("Phase 5: master_ip_failover_script --command=start, SET GLOBAL read_only=0 on the new master".into());
    if let Some(cmd) = &config.app.master_ip_failover_script {
        run.rec.hooks.push(HookPlan {
            hook: "master_ip_failover_script",
            args: ip_failover_args(if ssh_ok { "stopssh" } else { "stop" }, dead),
        });
        let _ = cmd;
    }
    run.rec.plan = plan;
    run.rec.outcome = Outcome::DryRun;
    if winner.is_none() {
        return Err(PhaseError("no replica can be promoted".into()));
    }
    Ok(())
}

async fn finish(run: &mut Run<'_>) {
    let config = run.config;
    let workdir = &run.opts.workdir;
    if run.rec.outcome == Outcome::DryRun {
        return;
    }
    // Report in MHA's shape.
    info!("----- Failover Report -----");
    info!("{}", run.rec.subject());
    for p in &run.rec.phases {
        info!(
            "Phase {} {}: {} ms{}",
            p.phase,
            p.name,
            p.ms,
            if p.ok { "" } else { " FAILED" }
        );
    }
    for r in &run.rec.recovered {
        info!("Recovered from {}: {}", r.from, r.gtids);
    }
    for n in &run.rec.not_recovered {
        warn!("NOT recovered: {n}");
    }
    let record = workdir.join(format!(
        "{}.failover.{}.json",
        config.app_name, run.rec.started_unix
    ));
    let _ = std::fs::write(
        &record,
        serde_json::to_string_pretty(&run.rec).unwrap_or_default(),
    );
    if matches!(
        run.rec.outcome,
        Outcome::Success | Outcome::Partial | Outcome::DataNotRecovered
    ) {
        let _ = std::fs::write(
            complete_marker(workdir, &config.app_name),
            format!("{}\n", now_unix()),
        );
        let _ = std::fs::remove_file(error_marker(workdir, &config.app_name));
        if run.opts.remove_dead_master_conf
            && let Some(dead) = &run.rec.dead_master
            && let Some(s) = config.servers.iter().find(|s| &s.display_name() == dead)
        {
            match crate::config::write::delete_server_block(&config.path, &s.block) {
                Ok(true) => info!(
                    "Deleted [{}] entry from {} .",
                    s.block,
                    config.path.display()
                ),
                Ok(false) => warn!(
                    "Entry [{}] not found in {} .",
                    s.block,
                    config.path.display()
                ),
                Err(e) => error!("could not remove the dead master from the configuration: {e}"),
            }
        }
    }
    if run.rec.outcome == Outcome::Refused {
        return;
    }
    if let Some(cmd) = &config.app.report_script {
        let mut body = vec![format!(
            "Master {} is down!",
            run.rec.dead_master.clone().unwrap_or_default()
        )];
        body.extend(run.rec.phases.iter().flat_map(|p| p.notes.clone()));
        body.extend(
            run.rec
                .replicas
                .iter()
                .map(|r| format!("{}: {}", r.server, r.detail)),
        );
        // MHA passes bare host names.
        let host_of = |name: &str| {
            config
                .servers
                .iter()
                .find(|s| s.display_name() == name)
                .map(|s| s.hostname.clone())
                .unwrap_or_else(|| name.to_string())
        };
        let dead_name = run.rec.dead_master.clone().unwrap_or_default();
        let mut args = vec![("orig_master_host".to_string(), host_of(&dead_name))];
        if let Some(n) = &run.rec.new_master {
            args.push(("new_master_host".into(), host_of(n)));
            let slaves: Vec<String> = run
                .rec
                .replicas
                .iter()
                .filter(|r| r.ok)
                .map(|r| host_of(&r.server))
                .collect();
            args.push(("new_slave_hosts".into(), slaves.join(",")));
        }
        args.push(("conf".into(), config.path.display().to_string()));
        args.push(("subject".into(), run.rec.subject()));
        args.push(("body".into(), body.join("\n")));
        if let Err(e) = run_hook(config, "report_script", cmd, args, vec![]).await {
            warn!("report_script failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(file: &str, end: u64, gtids: &[&str]) -> SavedTail {
        SavedTail {
            files: vec![],
            gtids: gtids.iter().map(|g| g.to_string()).collect(),
            end: BinlogPos::new(file, end),
        }
    }

    #[test]
    fn the_binlog_server_reaching_furthest_wins() {
        let t = |l: &str, t: SavedTail| (l.to_string(), t);
        // (tails in configuration order, winner, disagreements)
        type Case = (Vec<(String, SavedTail)>, usize, usize);
        let cases: Vec<Case> = vec![
            // The first lags: the second wins.
            (
                vec![
                    t("b1", tail("bin.000003", 500, &["0-1-3"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3", "0-1-4"])),
                ],
                1,
                0,
            ),
            // A later file beats a larger offset.
            (
                vec![
                    t("b1", tail("bin.000003", 9000, &["0-1-3"])),
                    t("b2", tail("bin.000004", 300, &["0-1-3"])),
                ],
                1,
                0,
            ),
            // Equal: configuration order.
            (
                vec![
                    t("b1", tail("bin.000003", 900, &["0-1-3"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3"])),
                ],
                0,
                0,
            ),
            // Different content: the furthest wins, and the disagreement is said.
            (
                vec![
                    t("b1", tail("bin.000003", 700, &["0-1-3", "0-2-9"])),
                    t("b2", tail("bin.000003", 900, &["0-1-3", "0-1-4"])),
                ],
                1,
                1,
            ),
        ];
        for (tails, winner, disagreements) in cases {
            let (w, d) = most_complete(&tails).unwrap();
            assert_eq!((w, d.len()), (winner, disagreements), "{tails:?}: {d:?}");
        }
        assert!(most_complete(&[]).is_none());
    }

    #[test]
    fn landed_lists_what_the_position_gained() {
        let pos = |t: &str| MariaGtidPos::parse(t).unwrap();
        let saved: Vec<String> = ["0-1-3", "0-1-4", "0-1-5", "1-1-9"]
            .map(String::from)
            .to_vec();
        // 0-1-5 was rolled back, 1-1-9 was there before.
        assert_eq!(
            landed(&saved, &pos("0-1-2,1-1-9"), &pos("0-1-4,1-1-9")),
            ["0-1-3", "0-1-4"]
        );
        assert!(landed(&saved, &pos("0-1-5,1-1-9"), &pos("0-1-5,1-1-9")).is_empty());
    }
}
