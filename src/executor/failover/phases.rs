//! MHA's phases, one async function each, each returning a named result.

#[allow(unused_imports)]
use super::*;

pub(super) async fn phase1<W: World>(run: &mut Run<'_, W>) -> PResult<Facts> {
    let config = run.config;
    let t = &config.app.timeouts;
    let m = markers(&run.opts.workdir, &config.app_name);
    guard::check(
        &m,
        now_unix(),
        run.opts.last_failover_minute,
        run.opts.ignore_last_failover,
    )
    .map_err(Refusal::Guard)?;
    if run.opts.ignore_last_failover && !run.opts.dry_run {
        let _ = std::fs::remove_file(complete_marker(&run.opts.workdir, &config.app_name));
        let _ = std::fs::remove_file(error_marker(&run.opts.workdir, &config.app_name));
    }
    // The manager has just found the master unreachable: do not wait for it again.
    let known_down = run
        .detected()
        .filter(|_| !run.opts.master_may_answer)
        .and(run.opts.dead_master_block.as_deref());
    let topo = run.world.observe(config, t.observe, known_down).await;
    let facts = plan::facts(topo, config, &run.opts.asked())?;
    let dead = &facts.topo.servers[facts.dead];
    run.rec.dead_master = Some(dead.name());
    run.rec.dead_master_id = Some(config.servers[dead.order].id());
    for name in &facts.ignored {
        warn!("{name} is not a working replica of the dead master; ignored (ignore_fail=1)");
    }
    for (name, parent) in &facts.unmanaged {
        info!("{name} replicates from {parent}: left alone (multi_tier_slave=1)");
        run.rec.left_alone.push(format!("{name} <- {parent}"));
    }
    run.rec.mode = Some(facts.mode);
    check_binlog_servers(run).await?;
    info!(
        "Starting {} failover of the dead master {}.",
        match facts.mode {
            Mode::Gtid => "GTID based",
            Mode::FilePos => "Non-GTID based",
        },
        facts.topo.servers[facts.dead].name()
    );
    Ok(facts)
}

/// MHA's failover lock on every replica of the dead master, waited for while a relay-log
/// purge holds it (MHA did not wait: it gave up after a second). A replica that cannot be
/// reached now is left to the phases that need it; a lock that stays held refuses the
/// failover before anything is changed.
pub(super) async fn failover_locks<W: World>(run: &Run<'_, W>, f: &Facts) -> PResult<Vec<W::Db>> {
    let mut set = JoinSet::new();
    for &i in &f.replicas {
        let s = run.server(f.topo.servers[i].order).clone();
        let w = run.world.clone();
        set.spawn(async move {
            let mut db = match session(&w, &s).await {
                Ok(db) => db,
                Err(e) => {
                    warn!("{}: failover lock not taken: {e}", s.display_name());
                    return Ok(None);
                }
            };
            let what = "take the failover lock";
            if db
                .advisory_lock_within(what, FAILOVER_LOCK, Duration::ZERO)
                .await?
            {
                return Ok(Some(db));
            }
            info!(
                "{}: the failover lock is held (purge_relay_logs runs there?); waiting up to {} s",
                s.display_name(),
                FAILOVER_LOCK_WAIT.as_secs()
            );
            if db
                .advisory_lock_within(what, FAILOVER_LOCK, FAILOVER_LOCK_WAIT)
                .await?
            {
                info!("{}: failover lock taken", s.display_name());
                return Ok(Some(db));
            }
            Err(FailoverError::from(Refusal::FailoverLockHeld {
                server: s.display_name(),
                lock: FAILOVER_LOCK,
                secs: FAILOVER_LOCK_WAIT.as_secs(),
            }))
        });
    }
    let mut held = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Some(db) = r?? {
            held.push(db);
        }
    }
    Ok(held)
}

/// As MHA (init_binlog_server): at least one configured binlog server must answer SSH before
/// anything is changed; the ones that do not are left out with a warning.
/// --ignore_binlog_server_error does not change this check (in MHA neither): it lets phase 3.2
/// go on when every binlog server fails to give its copy.
pub(super) async fn check_binlog_servers<W: World>(run: &mut Run<'_, W>) -> PResult<()> {
    if run.opts.skip_save_master_binlog || run.config.binlog_servers.is_empty() {
        return Ok(());
    }
    // The same login check as check_repl's (no binlog file to look for here).
    let failed: Vec<String> = crate::executor::check_repl::binlog_server_checks(run.config, None)
        .await
        .into_iter()
        .filter_map(|f| match f.problem {
            crate::engine::reason::Problem::SshFailed { detail } => {
                Some(format!("{}: {detail}", f.server.unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    if failed.len() < run.config.binlog_servers.len() {
        for f in &failed {
            warn!("binlog server not reachable over SSH, left out: {f}");
        }
        return Ok(());
    }
    Err(Refusal::BinlogServers { failed }.into())
}

// ------------------------------------------------------------------------------------------
// Phase 2: Dead Master Shutdown

pub(super) fn ssh_extras(prefix: &str, s: &ServerConfig) -> Vec<(String, String)> {
    crate::executor::check_repl::ssh_args(prefix, s)
}

pub(super) fn ip_failover_args(command: &str, dead: &ServerConfig) -> Vec<(String, String)> {
    server_args(command, "orig_master", dead)
}

/// `--command`, `--ssh_user`, then the server's host, ip and port named under `prefix`
/// (`--orig_master_host`, or a bare `--host` when `prefix` is empty) and its SSH extras.
fn server_args(command: &str, prefix: &str, s: &ServerConfig) -> Vec<(String, String)> {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}_{k}")
        }
    };
    let mut args = vec![
        ("command".to_string(), command.to_string()),
        ("ssh_user".into(), s.ssh.user.clone()),
        (key("host"), s.hostname.clone()),
        (key("ip"), s.ip.clone()),
        (key("port"), s.port.to_string()),
    ];
    args.extend(ssh_extras(prefix, s));
    args
}

pub(super) async fn run_hook(
    config: &Config,
    hook: &'static str,
    command: &str,
    args: Vec<(String, String)>,
    secrets: Vec<(String, Secret)>,
    secret_args: Vec<(String, Secret)>,
) -> Result<i32, HookFailed> {
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
        secret_args,
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
            o.exit_code
                .ok_or_else(|| HookFailed::NoExitCode(o.describe()))
        }
        Err(e) => Err(HookFailed::NotRun(e)),
    }
}

/// Can a command run on the host over SSH (the held session when there is one)?
pub(super) async fn ssh_reachable(w: &impl World, s: &ServerConfig) -> bool {
    let timeout = s.ssh.connection_timeout.min(w.timeouts().dead_master_ssh);
    w.ssh_check(&s.ssh, timeout).await.is_ok()
}

/// Shell: kill -9 the mysqld of the pid file (or, failing that, the process listening on the
/// port) and wait until it is gone (a zombie counts as gone: see `watch::ALIVE_SH`).
pub(super) fn kill_command(pid_file: Option<&str>, port: u16) -> String {
    let pf = crate::hooks::shell_quote(pid_file.unwrap_or(""));
    format!(
        "{}p={pf}; pid=''; \
         if [ -n \"$p\" ] && [ -f \"$p\" ]; then pid=$(head -c 20 \"$p\" | tr -dc 0-9); fi; \
         if [ -z \"$pid\" ] || ! alive \"$pid\"; then pid=$(ss -Htlnp 'sport = :{port}' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2); fi; \
         if [ -z \"$pid\" ] || ! alive \"$pid\"; then echo none; exit 0; fi; \
         kill -9 \"$pid\" 2>/dev/null || sudo -n kill -9 \"$pid\" 2>/dev/null; \
         i=0; while alive \"$pid\" && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; \
         if alive \"$pid\"; then echo alive \"$pid\"; exit 1; fi; echo killed \"$pid\"",
        crate::executor::watch::ALIVE_SH
    )
}

/// Fence the dead master before anything is promoted: an old master that comes back must not
/// take writes next to the new one. Returns a note for the report; an error stops the
/// failover (a fence that could not be put up is never passed over in silence).
pub(super) async fn fence(
    w: &impl World,
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
        let out = w
            .ssh_exec(&dead.ssh, &cmd, config.app.timeouts.fence_kill)
            .await
            .map_err(|e| FailoverError::Fence {
                server: name.clone(),
                why: format!("{e}. Stop its mysqld by hand, or set fencing = \"read_only\" or \"none\"; failover aborted before any promotion"),
            })?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.success() {
            return Err(FailoverError::Fence {
                server: name,
                why: format!(
                    "its mysqld could not be killed ({text}{}). Stop it by hand, or set fencing = \"read_only\" or \"none\"; failover aborted before any promotion",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
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
    let t = &config.app.timeouts;
    let quick = detected.is_some_and(|d| d.fresh(t.detection_max_age));
    let timeout = if quick {
        t.dead_master_recheck
    } else {
        t.dead_master_connect
    };
    match w.connect(dead, timeout).await {
        Ok(mut db) => {
            warn!(
                "The dead master {name} still answers SQL: making it read-only and killing client sessions"
            );
            db.set_read_only_as("fence: read_only", true)
                .await
                .map_err(|e| FailoverError::Fence {
                    server: name.clone(),
                    why: format!("{e}; failover aborted"),
                })?;
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

/// Phase 2: the plan is checked against the cluster once more, then nothing more may arrive
/// from the old master (IO threads stopped), the VIP goes down and the old master is fenced.
pub(super) async fn phase2<W: World>(run: &mut Run<'_, W>, f: &Facts) -> PResult<(bool, String)> {
    let config = run.config;
    let dead = run.server(f.topo.servers[f.dead].order).clone();
    let detected = run.detected().cloned();
    let sessions = recheck(run, f, detected.as_ref()).await?;
    let flag = error_marker(&run.opts.workdir, &config.app_name);
    std::fs::write(&flag, format!("{RUNNING_PREFIX}{}\n", std::process::id())).map_err(|e| {
        FailoverError::Local {
            what: format!("cannot write the failover flag file {}", flag.display()),
            error: e.to_string(),
        }
    })?;
    run.changed = true;
    let w = run.world.clone();
    let mut ssh_ok = stop_io_threads(run, sessions, &dead, detected.as_ref()).await?;
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
        let args = ip_failover_args(command, &dead);
        let what = format!("master_ip_failover_script --command={command}");
        match run_hook(
            config,
            "master_ip_failover_script",
            cmd,
            args,
            vec![],
            vec![],
        )
        .await
        {
            Ok(0) => {}
            Ok(10) => warn!("master_ip_failover_script exited 10: Proceeding."),
            Ok(c) => return Err(hook_failed(what, format!("exit code {c}"))),
            Err(e) => return Err(hook_failed(what, e.to_string())),
        }
    }
    let mut powered_off = false;
    if let Some(cmd) = &config.app.shutdown_script {
        let command = if ssh_ok { "stopssh" } else { "stop" };
        let args = shutdown_args(command, &dead);
        let what = "shutdown_script".to_string();
        match run_hook(config, "shutdown_script", cmd, args, vec![], vec![]).await {
            Ok(0) => {
                // powered off
                ssh_ok = false;
                powered_off = true;
            }
            Ok(10) => info!("SSH reachable. Shutting down mysqld done."),
            Ok(c) => return Err(hook_failed(what, format!("exit code {c}"))),
            Err(e) => return Err(hook_failed(what, e.to_string())),
        }
    }
    let fenced = if powered_off {
        "fenced: shutdown_script powered the host off".to_string()
    } else {
        fence(&w, config, &dead, ssh_ok, detected.as_ref()).await?
    };
    Ok((ssh_ok, fenced))
}

fn hook_failed(what: String, why: String) -> FailoverError {
    FailoverError::Hook { what, why }
}

/// Before the first irreversible step: is the plan still true? Every replica still
/// replicates from the dead master, and the dead master still refuses connections (not asked
/// again when it was silent moments ago: a hung master coming back is fenced next). Returns
/// the sessions to the replicas, for phase 2 to stop their IO threads on.
async fn recheck<W: World>(
    run: &Run<'_, W>,
    f: &Facts,
    detected: Option<&Detected>,
) -> PResult<Vec<W::Db>> {
    let mut set = JoinSet::new();
    for &i in &f.replicas {
        let s = run.server(f.topo.servers[i].order).clone();
        let w = run.world.clone();
        set.spawn(async move {
            let mut db = session(&w, &s).await?;
            let from = db
                .replica_status_row()
                .await?
                .map(|r| ReplicaStatus::from_row(&r))
                .map(|r| (r.master_host, r.master_port));
            Ok::<_, FailoverError>(((i, from), db))
        });
    }
    let ask_master =
        !run.opts.master_may_answer && !detected.is_some_and(|d| d.master_sql == MasterSql::Silent);
    let dead = run.server(f.topo.servers[f.dead].order).clone();
    let master = async {
        if !ask_master {
            return false;
        }
        let recheck = run.config.app.timeouts.dead_master_recheck;
        match run.world.connect(&dead, recheck).await {
            Ok(db) => {
                db.disconnect().await;
                true
            }
            Err(_) => false,
        }
    };
    let replicas = async {
        let (mut now, mut sessions) = (Vec::new(), Vec::new());
        while let Some(r) = set.join_next().await {
            let (seen, db) = r??;
            now.push(seen);
            sessions.push(db);
        }
        Ok::<_, FailoverError>((now, sessions))
    };
    let (replicas, master_answers) = tokio::join!(replicas, master);
    let (now, sessions) = replicas?;
    plan::still_current(f, &now, master_answers)?;
    Ok(sessions)
}

/// Every replica's IO thread stopped (on the sessions `recheck` opened), and meanwhile: does
/// the dead master's host answer SSH?
async fn stop_io_threads<W: World>(
    run: &Run<'_, W>,
    sessions: Vec<W::Db>,
    dead: &ServerConfig,
    detected: Option<&Detected>,
) -> PResult<bool> {
    let mut set = JoinSet::new();
    for mut db in sessions {
        set.spawn(async move {
            db.stop_io_thread().await?;
            db.disconnect().await;
            Ok::<_, FailoverError>(())
        });
    }
    let ssh_check = async {
        match detected.and_then(|d| d.master_ssh) {
            Some(known) => known,
            None => ssh_reachable(&run.world, dead).await,
        }
    };
    let stop_io = async {
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok::<_, FailoverError>(())
    };
    let (stopped, ssh_ok) = tokio::join!(stop_io, ssh_check);
    stopped?;
    Ok(ssh_ok)
}

/// shutdown_script's arguments, as MHA passes them.
pub(super) fn shutdown_args(command: &str, dead: &ServerConfig) -> Vec<(String, String)> {
    let mut args = server_args(command, "", dead);
    if let Some(p) = &dead.master_pid_file {
        args.push(("pid_file".into(), p.display().to_string()));
    }
    args
}

/// master_ip_failover_script --command=start's arguments (the password goes by environment
/// and stdin, or on argv with hook_password_args, never here).
pub(super) fn start_args(dead: &ServerConfig, new: &ServerConfig) -> Vec<(String, String)> {
    let mut args = ip_failover_args("start", dead);
    // MHA gives the start call the NEW master's ssh_user: the VIP goes up there.
    for (k, v) in &mut args {
        if k == "ssh_user" {
            *v = new.ssh.user.clone();
        }
    }
    args.extend([
        ("new_master_host".to_string(), new.hostname.clone()),
        ("new_master_ip".into(), new.ip.clone()),
        ("new_master_port".into(), new.port.to_string()),
        ("new_master_user".into(), new.user.clone()),
    ]);
    // ssh_options is one argument, already given with the old master's.
    args.extend(
        ssh_extras("new_master", new)
            .into_iter()
            .filter(|(k, _)| k != "ssh_options"),
    );
    args
}

/// The hooks the plan runs, in order, with their arguments.
pub(super) fn hook_plans(
    config: &Config,
    dead: &ServerConfig,
    new: &ServerConfig,
    ssh_ok: bool,
) -> Vec<HookPlan> {
    let command = if ssh_ok { "stopssh" } else { "stop" };
    let mut hooks = Vec::new();
    if config.app.master_ip_failover_script.is_some() {
        hooks.push(HookPlan {
            hook: "master_ip_failover_script",
            args: ip_failover_args(command, dead),
        });
    }
    if config.app.shutdown_script.is_some() {
        hooks.push(HookPlan {
            hook: "shutdown_script",
            args: shutdown_args(command, dead),
        });
    }
    if config.app.master_ip_failover_script.is_some() {
        hooks.push(HookPlan {
            hook: "master_ip_failover_script",
            args: start_args(dead, new),
        });
    }
    hooks
}

// ------------------------------------------------------------------------------------------
// Phase 3: Master Recovery

/// A replica after its SQL thread applied everything it had received; a delayed replica as it
/// was (it is never waited for).
#[derive(Debug, Clone)]
pub(super) struct Applied {
    pub(super) idx: usize,
    pub(super) status: ReplicaStatus,
    pub(super) slave_pos: GtidPos,
    pub(super) log_slave_updates: bool,
    /// SQL_Delay > 0 (MASTER_DELAY): its SQL thread applies what it received only hours
    /// later, so it was not waited for, is not the latest, and keeps its delay.
    pub(super) delayed: bool,
}

/// Wait until the replica's SQL thread has executed all it received (or waits inside a
/// transaction whose end never arrived), polling every 20 ms (MHA polled every second). A
/// delayed replica (`delayed`) is read once, not waited for: its SQL thread would apply what
/// it received only after MASTER_DELAY seconds.
/// `at`: the replica's index in the facts, and its own server_id when known.
pub(super) async fn wait_applied(
    w: impl World,
    s: &ServerConfig,
    at: (usize, Option<u32>),
    delayed: bool,
) -> PResult<Applied> {
    let (idx, own_id) = at;
    let mut db = session(&w, s).await?;
    let started = Instant::now();
    let mut last_exec: Option<BinlogPos> = None;
    let mut stable_since = Instant::now();
    let mut sql_started: Option<Instant> = None;
    loop {
        let (st, row) = replica_status(&mut db).await?.ok_or_else(|| {
            FailoverError::replica(s.display_name(), ReplicaProblem::NoLongerReplica)
        })?;
        if delayed {
            info!(
                "{}: delayed replica (SQL_Delay={}): not waited for, executed {}",
                s.display_name(),
                st.sql_delay,
                st.exec_pos
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            return applied_now(db, idx, st, true).await;
        }
        let restart = (&mut sql_started, w.timeouts().replication_start);
        if !st.sql_running() && sql_thread_restarted(&mut db, &st, s, restart).await? {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if !st.sql_running() {
            return Err(FailoverError::replica(
                s.display_name(),
                ReplicaProblem::SqlThreadStopped {
                    error: st.last_sql_error.clone(),
                },
            ));
        }
        // What the IO thread received, as whole transactions (MariaDB moves Gtid_IO_Pos at the
        // end of an event group, so a transaction torn by the crash is not in it).
        let received = row
            .get("Gtid_IO_Pos")
            .cloned()
            .flatten()
            .and_then(|t| MariaGtidPos::parse(&t).ok())
            .map(GtidPos::MariaDb)
            .filter(|p| !p.is_empty() && st.uses_gtid());
        // "Slave has read all relay log; ..." (MariaDB, MySQL before 8.0.22),
        // "Replica has read all relay log; ..." (MySQL 8.0.22+).
        let idle = ["Slave_SQL_Running_State", "Replica_SQL_Running_State"]
            .iter()
            .find_map(|k| row.get(*k).cloned().flatten())
            .is_some_and(|state| state.contains("read all relay log"));
        let consumed = st.exec_pos == st.read_pos
            || (idle
                && last_exec == st.exec_pos
                && stable_since.elapsed() > Duration::from_millis(300));
        let applied = match &received {
            // Applied means gtid_slave_pos reached it: with parallel replication the SQL
            // thread reads all of the relay log while workers still apply, so its state and
            // a steady position prove nothing. A GTID of this server's own (a master-master
            // pair's writes coming back from the other side) is skipped by the IO thread and
            // never reaches gtid_slave_pos: in its domain the relay log consumed is the proof.
            Some(GtidPos::MariaDb(io)) => {
                let (own, foreign) = split_own(io, own_id);
                gtid_var(&mut db, "gtid_slave_pos")
                    .await?
                    .covers(&GtidPos::MariaDb(foreign))
                    && (own.is_empty() || consumed)
            }
            Some(io) => gtid_var(&mut db, "gtid_slave_pos").await?.covers(io),
            // File/position replication (no Gtid_IO_Pos): the positions, as before.
            None => consumed,
        };
        if applied {
            // The status read above may predate the last commit (a worker may have finished
            // between the two reads): read the positions again, now that all is applied.
            let st = match (&received, replica_status(&mut db).await?) {
                (Some(_), Some((now, _))) => now,
                _ => st,
            };
            return applied_now(db, idx, st, false).await;
        }
        if last_exec != st.exec_pos {
            last_exec = st.exec_pos.clone();
            stable_since = Instant::now();
        }
        let limit = w.timeouts().relay_log_apply;
        if started.elapsed() > limit {
            return Err(FailoverError::replica(
                s.display_name(),
                ReplicaProblem::RelayLogNotApplied {
                    secs: limit.as_secs_f64(),
                },
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A received MariaDB position split into the GTIDs this server originated (`own_id`) and
/// the others.
fn split_own(io: &MariaGtidPos, own_id: Option<u32>) -> (MariaGtidPos, MariaGtidPos) {
    let (own, foreign) =
        io.0.iter()
            .map(|(k, v)| (*k, *v))
            .partition(|((_, server), _)| Some(*server) == own_id);
    (MariaGtidPos(own), MariaGtidPos(foreign))
}

/// An SQL thread stopped without an error (by hand, or STOP SLAVE SQL_THREAD) is started
/// again, once, to apply what the replica received, as MHA did; true while it is starting
/// (within replication_start_timeout). One stopped by an error is left to stop the failover.
async fn sql_thread_restarted(
    db: &mut impl Db,
    st: &ReplicaStatus,
    s: &ServerConfig,
    (started, limit): (&mut Option<Instant>, Duration),
) -> PResult<bool> {
    if st.last_sql_errno != 0 {
        return Ok(false);
    }
    let Some(at) = started else {
        warn!(
            "{}: its SQL thread was stopped (no error): starting it to apply its relay log",
            s.display_name()
        );
        db.start_sql_thread().await?;
        *started = Some(Instant::now());
        return Ok(true);
    };
    Ok(at.elapsed() < limit)
}

/// The replica as it stands once applied (or, delayed, as it is).
async fn applied_now(
    mut db: impl Db,
    idx: usize,
    status: ReplicaStatus,
    delayed: bool,
) -> PResult<Applied> {
    let slave_pos = gtid_var(&mut db, "gtid_slave_pos").await?;
    let log_slave_updates = log_slave_updates(&mut db).await?;
    db.disconnect().await;
    Ok(Applied {
        idx,
        status,
        slave_pos,
        log_slave_updates,
        delayed,
    })
}

pub(super) async fn log_slave_updates(db: &mut impl Db) -> PResult<bool> {
    Ok(db.log_slave_updates().await? == Some(true))
}

pub(super) async fn wait_gtid(db: &mut impl Db, pos: &GtidPos, secs: u64) -> PResult<()> {
    Ok(db.wait_gtid(pos, secs).await?)
}

pub(super) async fn wait_threads(db: &mut impl Db, limit: Duration) -> PResult<()> {
    let start = Instant::now();
    loop {
        if let Some((st, _)) = replica_status(db).await? {
            if st.io_running() && st.sql_running() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(FailoverError::replica(
                    db.server(),
                    ReplicaProblem::NotStarted {
                        io: st.io_running.to_string(),
                        sql: st.sql_running.to_string(),
                        io_error: st.last_io_error,
                        sql_error: st.last_sql_error,
                    },
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The new master's GTID state after phase 3.4.
#[derive(Debug, Clone)]
pub(super) struct NewMasterPos {
    /// gtid_binlog_pos: what replicas can fetch from it.
    pub(super) binlog: GtidPos,
    /// gtid_current_pos: what it has executed, binlogged or not.
    pub(super) executed: GtidPos,
    /// With log_slave_updates=OFF, its gtid_slave_pos: what it got by replication is not in its
    /// binlog, so a replica behind that position can never get it from there.
    pub(super) replicated_unlogged: Option<GtidPos>,
}

/// One other replica: fetch what it lacks from the new master, then (file/position mode)
/// switch to the new master's binlog coordinates. A delayed replica (`delayed`: its SQL_Delay)
/// is repointed by GTID with its delay kept (CHANGE MASTER keeps MASTER_DELAY) and never waited
/// for: it would reach the new master's position only after the delay.
#[allow(clippy::too_many_arguments)]
pub(super) async fn recover_replica(
    w: impl World,
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
    let mut db = session(&w, &s).await?;
    let heartbeat = db.heartbeat_period().await;
    db.stop_replica().await?;
    let before = gtid_var(&mut db, "gtid_slave_pos").await?;
    // What it lacks must be in the new master's binlog, or it can never arrive (a new master
    // with log_slave_updates=OFF does not write what it replicated). Never report such a
    // replica as recovered.
    if let Some(replicated) = &target.replicated_unlogged {
        let missing = replicated.lacking_in(&before);
        if !missing.is_empty() {
            return Err(FailoverError::replica(
                s.display_name(),
                ReplicaProblem::LacksUnlogged {
                    missing: missing.join(", "),
                    new_master: new.display_name(),
                },
            ));
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
        let secs = Timeouts::whole_secs(w.timeouts().failover_catch_up);
        wait_gtid(&mut db, &target_pos, secs).await?;
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
    wait_threads(&mut db, w.timeouts().replication_start).await?;
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

/// Phase 3.1's result: every replica once it applied what it received, and the latest.
pub(super) struct Latest {
    pub(super) applied: Vec<Applied>,
    pub(super) latest: Applied,
    /// Phase 1's facts with every replica's status after it applied its relay log.
    pub(super) facts: Facts,
}

impl Latest {
    /// Where relay-log diffs can be cut from: the latest replica, then every other one that
    /// executed as far (not delayed), in configuration order. MHA (find_latest_base_slave)
    /// also looked among the latest replicas for one whose relay logs reach back far enough.
    pub(super) fn diff_sources(&self) -> Vec<&Applied> {
        let up_to = &self.latest.status.exec_pos;
        let same = self
            .applied
            .iter()
            .filter(|a| a.idx != self.latest.idx && !a.delayed && a.status.exec_pos == *up_to);
        std::iter::once(&self.latest).chain(same).collect()
    }

    pub(super) fn exec_pos(&self) -> BinlogPos {
        self.latest
            .status
            .exec_pos
            .clone()
            .unwrap_or_else(|| BinlogPos::new("", 0))
    }
}

/// Phase 3.2's result: the dead master's binlog after the latest replica, saved locally.
pub(super) struct Saved {
    pub(super) files: Vec<PathBuf>,
    pub(super) gtids: Vec<String>,
    /// The source's label; empty when nothing could be saved.
    pub(super) from: String,
}

/// Phase 3.3's result.
pub(super) struct NewMaster {
    /// The topology with every replica's status after phase 3.1.
    pub(super) topo: Topology,
    pub(super) idx: usize,
    pub(super) cfg: ServerConfig,
    /// How the servers get what the latest replica has (the plan's decision).
    pub(super) recovery: Recovery,
}

/// Phase 3.4's result: where the recovered new master stands.
pub(super) struct Promotion {
    pub(super) pos: NewMasterPos,
    pub(super) coords: BinlogPos,
    /// Position-based recovery: what the other replicas apply in phase 4.
    pub(super) replay: Option<Replays>,
}

/// Position-based recovery's material for phase 4: each replica's relay-log diff and the
/// dead master's saved tail, which every server applies.
pub(super) struct Replays {
    pub(super) diffs: RelayDiffs,
    pub(super) tail: Vec<PathBuf>,
    pub(super) tail_gtids: Vec<String>,
}

/// Phase 3.1: every replica applies what it received; the latest one is found.
pub(super) async fn phase3_1<W: World>(
    run: &mut Run<'_, W>,
    facts: &Facts,
) -> PResult<Done<Latest>> {
    let mut set = JoinSet::new();
    for &i in &facts.replicas {
        let s = run.server(facts.topo.servers[i].order).clone();
        let alive = facts.topo.servers[i].alive();
        let delayed = alive
            .and_then(|o| o.replica.as_ref())
            .is_some_and(|r| r.sql_delay > 0);
        let own = alive.map(|o| o.server_id);
        let w = run.world.clone();
        set.spawn(async move { wait_applied(w, &s, (i, own), delayed).await });
    }
    let mut applied = Vec::new();
    while let Some(r) = set.join_next().await {
        applied.push(r??);
    }
    applied.sort_by_key(|a| facts.topo.servers[a.idx].order);
    // The facts again, with every replica as it stands now that it applied its relay log.
    let mut after = facts.clone();
    for a in &applied {
        if let Ok(s) = &mut after.topo.servers[a.idx].state
            && let Some(r) = &mut s.replica
        {
            *r = a.status.clone();
        }
    }
    after.replicas = applied.iter().map(|a| a.idx).collect();
    let latest_idx = plan::latest(&after.topo, &after.replicas).ok_or(Refusal::AllDelayed)?;
    let latest = applied
        .iter()
        .find(|a| a.idx == latest_idx)
        .expect("the latest is one of them")
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
    Ok(done(
        Latest {
            applied,
            latest,
            facts: after,
        },
        vec![note],
    ))
}

/// Phase 3.2: the dead master's binlog after what the latest replica executed, from the dead
/// master's host or the most complete binlog server.
pub(super) async fn phase3_2<W: World>(
    run: &mut Run<'_, W>,
    dead_cfg: &ServerConfig,
    ssh_ok: bool,
    latest: &Latest,
) -> PResult<Done<Saved>> {
    let latest_exec = latest.exec_pos();
    let mut tries = Tries::default();
    run.rec.dead_master_reached = (!latest_exec.file.is_empty()).then(|| latest_exec.clone());
    if run.opts.skip_save_master_binlog {
        tries
            .notes
            .push("skipped (--skip_save_master_binlog)".to_string());
        run.rec.not_recovered.push(format!(
            "events after {latest_exec} on the dead master (saving skipped)"
        ));
        return Ok(done(Saved::nothing(), tries.notes));
    }
    // The dead master itself when its host answers; else (or if that fails) every binlog
    // server, read in parallel: the one whose copy reaches furthest wins, not the first
    // that answers (a lagging one would hide what the others received).
    let mut chosen = None;
    if ssh_ok {
        let src = BinlogSource::dead_master(dead_cfg);
        let r = save_binlog_tail(&run.world, &src, &latest_exec, &run.opts.workdir).await;
        chosen = tries.took(src.label, true, r);
    } else {
        warn!(
            "SSH to the dead master is NOT reachable: events after {latest_exec} cannot be read from it"
        );
        tries
            .notes
            .push("dead master host not reachable over SSH".to_string());
    }
    if chosen.is_none() && !run.config.binlog_servers.is_empty() {
        chosen = from_binlog_servers(run, &latest_exec, &mut tries).await?;
    }
    let saved = match chosen {
        Some((label, is_master, t)) => {
            announce_saved(&label, is_master, &t, &latest_exec);
            run.rec.dead_master_reached = Some(t.end.clone());
            tries
                .notes
                .extend(t.files.iter().map(|f| format!("saved {}", f.display())));
            Saved {
                files: t.files,
                gtids: t.gtids,
                from: label,
            }
        }
        None => Saved::nothing(),
    };
    account_for_loss(run, dead_cfg, ssh_ok, &latest_exec, &saved, &mut tries)?;
    Ok(done(saved, tries.notes))
}

/// What phase 3.2 tried: its notes for the report, and the sources that failed.
#[derive(Default)]
pub(super) struct Tries {
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Tries {
    /// The saved tail of `label`, or None after noting why not.
    fn took(
        &mut self,
        label: String,
        is_master: bool,
        r: PResult<SavedTail>,
    ) -> Option<(String, bool, SavedTail)> {
        match r {
            Ok(t) => Some((label, is_master, t)),
            Err(e) => {
                warn!("could not save the binlog: {e}");
                self.notes.push(format!("failed: {e}"));
                self.failures.push(e.to_string());
                None
            }
        }
    }
}

impl Saved {
    fn nothing() -> Saved {
        Saved {
            files: vec![],
            gtids: vec![],
            from: String::new(),
        }
    }
}

/// Every binlog server read in parallel; the most complete copy, or None.
async fn from_binlog_servers<W: World>(
    run: &mut Run<'_, W>,
    latest_exec: &BinlogPos,
    tries: &mut Tries,
) -> PResult<Option<(String, bool, SavedTail)>> {
    let mut set = JoinSet::new();
    for (k, b) in run.config.binlog_servers.iter().cloned().enumerate() {
        let (from, workdir) = (latest_exec.clone(), run.opts.workdir.clone());
        let w = run.world.clone();
        set.spawn(
            async move {
                let src = BinlogSource::binlog_server(&b);
                let r = save_binlog_tail(&w, &src, &from, &workdir).await;
                (k, src.label, r)
            }
            .in_current_span(),
        );
    }
    let mut got = Vec::new();
    while let Some(r) = set.join_next().await {
        let (k, label, r) = r?;
        if let Some((label, _, t)) = tries.took(label, false, r) {
            let (end, n) = (&t.end, t.gtids.len());
            info!(
                "{label}: holds the master's binlog up to {end} ({n} transaction(s) after {latest_exec})"
            );
            tries
                .notes
                .push(format!("{label}: up to {end}, {n} transaction(s)"));
            got.push((k, label, t));
        }
    }
    got.sort_by_key(|(k, _, _)| *k);
    if got.is_empty() && !run.opts.ignore_binlog_server_error {
        // MHA's "All binlog servers failed!": what only they hold is not given up silently.
        return Err(FailoverError::BinlogNotSaved(format!(
            "All binlog servers failed! ({}). Nothing was promoted; the replicas' IO threads are stopped. Fix them and fail over again with --ignore_last_failover, or fail over without what only they hold with --ignore_binlog_server_error.",
            tries.failures.join("; ")
        )));
    }
    if got.is_empty() {
        warn!("All binlog servers failed; going on without them (--ignore_binlog_server_error)");
    }
    let tails: Vec<(String, SavedTail)> = got.into_iter().map(|(_, l, t)| (l, t)).collect();
    let Some((best, disagree)) = most_complete(&tails) else {
        return Ok(None);
    };
    for d in disagree {
        warn!("binlog servers disagree: {d}");
        tries.notes.push(format!("binlog servers disagree: {d}"));
        run.rec.not_recovered.push(d);
    }
    if tails.len() > 1 {
        info!(
            "{} is the most complete binlog server (up to {})",
            tails[best].0, tails[best].1.end
        );
    }
    let (label, t) = tails[best].clone();
    Ok(Some((label, false, t)))
}

fn announce_saved(label: &str, is_master: bool, t: &SavedTail, after: &BinlogPos) {
    if t.files.is_empty() {
        // MHA's words for the dead master.
        let from = if is_master { "the orig master" } else { label };
        info!("Additional events were not found from {from}. No need to save.");
    } else {
        info!(
            "Saved {} transaction(s) after {after} from {label}",
            t.gtids.len()
        );
    }
}

/// What could not be saved goes under NOT recovered; when the dead master's host answers SSH
/// but its binlog could not be read, the failover stops before promotion (MHA stopped here
/// too) unless --ignore_binlog_save_error.
fn account_for_loss<W: World>(
    run: &mut Run<'_, W>,
    dead_cfg: &ServerConfig,
    ssh_ok: bool,
    latest_exec: &BinlogPos,
    saved: &Saved,
    tries: &mut Tries,
) -> PResult<()> {
    let dead = dead_cfg.display_name();
    if !saved.from.is_empty() {
        if !ssh_ok {
            run.rec.not_recovered.push(format!(
                "anything the dead master {dead} wrote after the last event {} had received cannot be known (its host is not reachable over SSH)",
                saved.from
            ));
        }
        return Ok(());
    }
    if ssh_ok {
        // The events are on a host that answers: losing them is a choice, not a fate.
        if !run.opts.ignore_binlog_save_error {
            return Err(stop_before_promotion(
                run.config,
                dead_cfg,
                latest_exec,
                &tries.failures,
            ));
        }
        warn!(
            "the dead master's binlog could not be saved; going on without it (--ignore_binlog_save_error): events after {latest_exec} are lost"
        );
        tries
            .notes
            .push("going on without the binlog (--ignore_binlog_save_error)".into());
    }
    run.rec.not_recovered.push(if ssh_ok || !tries.failures.is_empty() {
        format!(
            "events after {latest_exec} on the dead master {dead}{}: {}",
            if ssh_ok {
                " (its binlog could not be read; --ignore_binlog_save_error)"
            } else {
                " (its host is not reachable over SSH)"
            },
            tries.failures.join("; ")
        )
    } else {
        format!(
            "events the dead master {dead} wrote after {latest_exec} (its host is not reachable over SSH): transactions committed there after that point are lost"
        )
    });
    Ok(())
}

/// Phase 3.3: the plan again, made by the same functions as before phase 2 and by the dry
/// run, from the replicas as phase 3.1 left them.
pub(super) async fn phase3_3<W: World>(
    run: &mut Run<'_, W>,
    latest: &Latest,
    ssh_ok: bool,
) -> PResult<Done<NewMaster>> {
    let config = run.config;
    let facts = &latest.facts;
    let ranking = plan::rank(facts, config, &run.opts.asked())?;
    run.rec.ranking = Some(ranking.clone());
    let planned = plan::plan(facts, config, &run.opts.asked(), ranking, Some(ssh_ok))?;
    if let Some(before) = &run.rec.planned
        && before.new_master != planned.new_master
    {
        warn!(
            "The new master is {} and not {} as planned before phase 2: the replicas applied their relay logs",
            planned.new_master, before.new_master
        );
    }
    let new_idx = facts
        .topo
        .servers
        .iter()
        .position(|o| o.block == planned.new_master_block)
        .expect("ranked server exists");
    let new_cfg = run.server(facts.topo.servers[new_idx].order).clone();
    run.rec.new_master = Some(new_cfg.display_name());
    run.rec.new_master_id = Some(new_cfg.id());
    info!("New master is {}", new_cfg.display_name());
    let note = planned.new_master.clone();
    let recovery = planned.recovery.recovery;
    info!("Recovery: {}", planned.recovery);
    let notes = vec![note, format!("recovery {}", planned.recovery)];
    run.rec.planned = Some(planned);
    Ok(done(
        NewMaster {
            topo: facts.topo.clone(),
            idx: new_idx,
            cfg: new_cfg,
            recovery,
        },
        notes,
    ))
}

/// Phase 3.4: the new master catches up with the latest replica, then applies the saved tail.
pub(super) async fn phase3_4<W: World>(
    run: &mut Run<'_, W>,
    latest: &Latest,
    new_master: &NewMaster,
    saved: &Saved,
) -> PResult<Done<Promotion>> {
    let new_cfg = &new_master.cfg;
    let new_applied = latest
        .applied
        .iter()
        .find(|a| a.idx == new_master.idx)
        .expect("new master is a replica")
        .clone();
    let mut db = session(&run.world, new_cfg).await?;
    db.stop_replica().await?;
    let mut notes = Vec::new();
    if new_applied.delayed {
        // Chosen with --new_master_host: it catches up from the latest replica at
        // once, not MASTER_DELAY seconds later.
        let delay = new_applied.status.sql_delay;
        warn!(
            "{} is a delayed replica (SQL_Delay={delay}): its delay is lifted to catch up",
            new_cfg.display_name()
        );
        db.lift_replica_delay().await?;
        notes.push(format!(
            "delayed replica (SQL_Delay={delay}) chosen with --new_master_host: delay lifted"
        ));
    }
    let before = gtid_var(&mut db, "gtid_binlog_pos").await?;
    let diffs = match new_master.recovery {
        Recovery::Gtid => {
            catch_up_from_latest(run, &mut db, latest, new_master, &new_applied, &mut notes)
                .await?;
            None
        }
        Recovery::Positions => {
            Some(replay_on_new_master(run, &mut db, latest, new_master, &mut notes).await?)
        }
    };
    let after_catchup = gtid_var(&mut db, "gtid_binlog_pos").await?;
    let from_latest = after_catchup.not_in(&before);
    if diffs.is_none() && !from_latest.is_empty() {
        let latest_name = new_master.topo.servers[latest.latest.idx].name();
        run.rec.recovered.push(Recovered {
            from: format!("latest replica {latest_name}"),
            gtids: from_latest.to_string(),
        });
    }
    if !saved.files.is_empty() {
        apply_saved_tail(run, &mut db, new_cfg, saved, &after_catchup, &mut notes).await?;
    }
    let mut promotion = stand_alone(&mut db, new_cfg).await?;
    promotion.replay = diffs.map(|diffs| Replays {
        diffs,
        tail: saved.files.clone(),
        tail_gtids: saved.gtids.clone(),
    });
    db.disconnect().await;
    let user = new_cfg
        .repl_user
        .clone()
        .unwrap_or_else(|| new_applied.status.master_user.clone());
    let dialect = new_master.topo.servers[new_master.idx]
        .alive()
        .map_or(Dialect::MariaDb, |s| Dialect::of(&s.version));
    notes.extend(statements_for_others(
        dialect,
        new_cfg,
        &user,
        &promotion.coords,
    ));
    Ok(done(promotion, notes))
}

/// The new master copies what it lacks from the latest replica (when it is not the latest),
/// replicating from it by GTID until it has all of it.
async fn catch_up_from_latest<W: World>(
    run: &Run<'_, W>,
    db: &mut W::Db,
    latest: &Latest,
    new_master: &NewMaster,
    new_applied: &Applied,
    notes: &mut Vec<String>,
) -> PResult<()> {
    let (new_cfg, l) = (&new_master.cfg, &latest.latest);
    let behind = l.slave_pos.not_in(&new_applied.slave_pos);
    if new_master.idx == l.idx || behind.is_empty() {
        return Ok(());
    }
    let latest_name = new_master.topo.servers[l.idx].name();
    if !l.log_slave_updates {
        return Err(FailoverError::replica(
            latest_name,
            ReplicaProblem::LatestWithoutLogSlaveUpdates,
        ));
    }
    let latest_cfg = run.server(new_master.topo.servers[l.idx].order).clone();
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
    let secs = Timeouts::whole_secs(run.world.timeouts().failover_catch_up);
    wait_gtid(db, &l.slave_pos, secs).await?;
    db.stop_replica().await?;
    notes.push(format!("copied {behind} from {latest_name}"));
    Ok(())
}

/// The dead master's saved binlog applied on the new master; what landed is recorded.
async fn apply_saved_tail<W: World>(
    run: &mut Run<'_, W>,
    db: &mut W::Db,
    new_cfg: &ServerConfig,
    saved: &Saved,
    after_catchup: &GtidPos,
    notes: &mut Vec<String>,
) -> PResult<()> {
    let (files, tail_gtids) = (&saved.files, &saved.gtids);
    info!(
        "Applying the dead master's saved binlog ({} transaction(s)) on {}",
        tail_gtids.len(),
        new_cfg.display_name()
    );
    apply_binlogs(new_cfg, files, &run.opts.workdir)
        .await
        .map_err(|e| FailoverError::Apply {
            server: new_cfg.display_name(),
            why: e.to_string(),
        })?;
    let after_tail = gtid_var(db, "gtid_binlog_pos").await?;
    // What landed, not what the files held: the saved transactions the new master's
    // gtid_binlog_pos now covers and did not before.
    let from_tail = after_tail.not_in(after_catchup);
    let landed = landed(tail_gtids, after_catchup, &after_tail);
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
            from: format!("{} binlog (over SSH)", saved.from),
            gtids: if landed.is_empty() {
                from_tail.to_string()
            } else {
                landed.join(",")
            },
        });
    }
    notes.push(format!("applied {} saved transaction(s)", landed.len()));
    Ok(())
}

/// The new master forgets its master and reads where it stands.
async fn stand_alone(db: &mut impl Db, new_cfg: &ServerConfig) -> PResult<Promotion> {
    if !new_cfg.skip_reset_slave {
        db.reset_replica_all().await?;
    }
    // The saved tail was applied by a client session: its GTIDs reached gtid_binlog_pos,
    // not gtid_slave_pos. Should this server replicate again later (MASTER_USE_GTID=
    // slave_pos: a switch back), it must not ask for them again.
    db.slave_pos_covers_binlog().await?;
    let binlog = gtid_var(db, "gtid_binlog_pos").await?;
    // What it has executed, binlogged or not: where every replica must end.
    let executed = gtid_var(db, "gtid_current_pos").await?;
    let replicated_unlogged = if db.log_slave_updates().await? == Some(false) {
        let replicated = gtid_var(db, "gtid_slave_pos").await?;
        // MySQL: what it executed and its binlog cannot serve (a set); MariaDB: what it
        // replicated, compared per domain.
        Some(match replicated {
            GtidPos::MySql(_) => replicated.not_in(&binlog),
            GtidPos::MariaDb(_) => replicated,
        })
    } else {
        None
    };
    let coords = db.binlog_coords().await?;
    info!(
        "{}: OK: Applying all logs succeeded. GTID position {binlog}, binlog {coords}",
        new_cfg.display_name()
    );
    Ok(Promotion {
        pos: NewMasterPos {
            binlog,
            executed,
            replicated_unlogged,
        },
        coords,
        replay: None,
    })
}

/// MHA's line for whoever repoints a server by hand (a rejoining old master, a replica left
/// out): both forms, in the new master's dialect, the password masked. Returns them as
/// report notes.
fn statements_for_others(
    dialect: Dialect,
    new_cfg: &ServerConfig,
    user: &str,
    coords: &BinlogPos,
) -> Vec<String> {
    let masked = Secret::new("xxx");
    let statement =
        |start: &StartAt| dialect.change_master(new_cfg, Some(user), Some(&masked), start, None);
    let by_position = statement(&StartAt::Coords(coords.clone()));
    let by_gtid = statement(&StartAt::Gtid);
    let gtid_words = match dialect {
        Dialect::MariaDb => "MASTER_USE_GTID",
        _ => "auto-positioning",
    };
    info!(
        "All other slaves should start replication from here. Statement should be: {by_position};"
    );
    info!("With GTIDs ({gtid_words}): {by_gtid};");
    vec![
        format!("Statement for the others, by position: {by_position}"),
        format!("Statement for the others, by GTID: {by_gtid}"),
    ]
}

/// Phase 4: every other replica follows the new master, in parallel, while phase 5 (`p5`)
/// runs beside it; phase 5's result and end time land in `p5_out`.
pub(super) async fn phase4<W: World>(
    run: &mut Run<'_, W>,
    facts: &Facts,
    latest: &Latest,
    new_master: &NewMaster,
    promotion: &Promotion,
    p5: impl std::future::Future<Output = PResult<Done<bool>>>,
    p5_out: &mut Option<(PResult<Done<bool>>, Instant)>,
) -> PResult<Done<bool>> {
    let mut set = JoinSet::new();
    if !run.opts.skip_change_master {
        for a in latest.applied.iter().filter(|a| a.idx != new_master.idx) {
            spawn_follower(&mut set, run, a, facts.mode, new_master, promotion);
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
    *p5_out = Some((p5r, Instant::now()));
    let mut failed = false;
    for r in joined {
        let (id, name, res) = r?;
        match res {
            Ok(detail) => {
                info!("{name}: OK: {detail}");
                run.rec.replicas.push(ReplicaResult {
                    id: id.clone(),
                    server: name,
                    ok: true,
                    detail,
                });
            }
            Err(e) => {
                error!("{name}: recovery failed: {e}");
                failed = true;
                run.rec.replicas.push(ReplicaResult {
                    id: id.clone(),
                    server: name,
                    ok: false,
                    detail: e.to_string(),
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
}

type Follower = (ServerId, String, PResult<String>);

/// One other replica's recovery, spawned into `set`: by its relay-log diff and the saved tail
/// (position-based recovery), else by GTID from the new master. A delayed replica always
/// goes by GTID, keeping its delay.
fn spawn_follower<W: World>(
    set: &mut JoinSet<Follower>,
    run: &Run<'_, W>,
    a: &Applied,
    mode: Mode,
    new_master: &NewMaster,
    promotion: &Promotion,
) {
    let s = run.server(new_master.topo.servers[a.idx].order).clone();
    let repl_user = s
        .repl_user
        .clone()
        .or_else(|| Some(a.status.master_user.clone()));
    let repl_password = s.repl_password.clone();
    let delayed = a.delayed.then_some(a.status.sql_delay);
    let new = new_master.cfg.clone();
    let (id, name) = (s.id(), s.display_name());
    let w = run.world.clone();
    if let Some(r) = promotion.replay.as_ref().filter(|_| delayed.is_none()) {
        let job = Replay {
            diff: r.diffs.of(a.idx).cloned(),
            source: r.diffs.source.clone(),
            tail: r.tail.clone(),
            tail_gtids: r.tail_gtids.clone(),
            coords: promotion.coords.clone(),
            workdir: run.opts.workdir.clone(),
        };
        set.spawn(
            async move {
                let r = replay_on_replica(w, s, new, repl_user, repl_password, job).await;
                (id, name, r)
            }
            .in_current_span(),
        );
        return;
    }
    let (pos, coords, sync) = (
        promotion.pos.clone(),
        promotion.coords.clone(),
        run.opts.wait_until_gtid_in_sync,
    );
    set.spawn(
        async move {
            let r = recover_replica(
                w,
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
            (id, name, r)
        }
        .in_current_span(),
    );
}

/// Phase 5: the new master takes writes (read_only=0; semi-sync's master side first when it is
/// kept), then master_ip_failover_script
/// --command=start moves the VIP to it.
pub(super) async fn phase5(
    w: &impl World,
    config: &Config,
    dead_cfg: &ServerConfig,
    new_cfg: &ServerConfig,
    skip_disable_read_only: bool,
    semi_sync_master: Option<&crate::topology::MasterSettings>,
) -> PResult<Done<bool>> {
    let mut notes = Vec::new();
    let mut start_failed = false;
    // Before the first write: no commit on the new master is acknowledged alone.
    if let Some(keep) = semi_sync_master {
        notes.push(crate::executor::semi_sync::master_on(w, new_cfg, keep).await);
    }
    if !skip_disable_read_only {
        let mut db = session(w, new_cfg).await?;
        db.set_read_only(false).await?;
        db.disconnect().await;
        notes.push(format!(
            "{}: read_only=0: the new master takes writes",
            new_cfg.display_name()
        ));
    }
    if let Some(cmd) = &config.app.master_ip_failover_script {
        let args = start_args(dead_cfg, new_cfg);
        let secrets = vec![(
            "MHA_NEW_MASTER_PASSWORD".to_string(),
            new_cfg.password.clone(),
        )];
        let on_argv = if config.app.hook_password_args {
            vec![("new_master_password".to_string(), new_cfg.password.clone())]
        } else {
            vec![]
        };
        match run_hook(
            config,
            "master_ip_failover_script",
            cmd,
            args,
            secrets,
            on_argv,
        )
        .await
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicas_own_gtids_are_split_from_what_it_must_apply() {
        let io = MariaGtidPos::parse("0-1-12,1-2-7,2-1-3").unwrap();
        let (own, foreign) = split_own(&io, Some(1));
        assert_eq!(own.to_string(), "0-1-12,2-1-3");
        assert_eq!(foreign.to_string(), "1-2-7");
        let (own, foreign) = split_own(&io, None);
        assert!(own.is_empty());
        assert_eq!(foreign, io);
    }
}
