//! What a rejoin changes, in order: the fence (read-only, client sessions killed), the
//! replication from the current master (gtid_slave_pos, CHANGE MASTER, START SLAVE, caught
//! up), then the configuration file, the deposed-master marker and the running manager.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::info;

use super::error::RejoinError;
use super::facts::open;
use super::locate::Returning;
use crate::config::{Config, ServerConfig, write};
use crate::executor::deposed;
use crate::secret::Secret;
use crate::sql::Session;
use crate::sql::dialect::StartAt;
use crate::sql::ops::Toward;
use crate::topology::MariaGtidPos;

/// How a rejoin tells the manager to read the configuration again.
#[derive(Debug, Clone)]
pub enum ManagerLink {
    /// SIGHUP to the manager running for this application and workdir, if one runs.
    Signal,
    /// The rejoin runs inside the manager (auto_rejoin).
    InProcess(Arc<Notify>),
}

/// Read-only, then its client sessions killed: nothing more is written on it.
pub(super) async fn fence(db: &mut Session) -> Result<usize, RejoinError> {
    db.set_timeout(Duration::from_secs(10));
    db.fence_read_only("fence: read_only").await?;
    Ok(db.kill_client_sessions().await)
}

/// Replicate from `master` from `start` with MASTER_USE_GTID=slave_pos, and wait until it
/// has what the master has now (`sql`: the connect timeout; `catch_up`: that wait).
pub(super) async fn attach(
    db: &mut Session,
    returning: &ServerConfig,
    master: &ServerConfig,
    start: &MariaGtidPos,
    (sql, catch_up): (Duration, Duration),
    steps: &mut Vec<String>,
) -> Result<(), RejoinError> {
    let user = returning
        .repl_user
        .clone()
        .or_else(|| master.repl_user.clone())
        .ok_or_else(|| RejoinError::NoReplUser {
            server: returning.display_name(),
        })?;
    let password = returning
        .repl_password
        .clone()
        .or_else(|| master.repl_password.clone());
    db.stop_replica().await?;
    db.set_slave_pos(&start.clone().into()).await?;
    steps.push(format!("gtid_slave_pos = {start}"));
    db.point_at(
        Toward::CurrentMaster,
        master,
        Some(&user),
        password.as_ref(),
        &StartAt::Gtid,
        None,
    )
    .await?;
    steps.push(format!(
        "pointed at the master: {}",
        statement(db, master, &user)
    ));
    db.start_replica().await?;
    steps.push("replication started".into());
    let (mut mdb, _) = open(master, sql).await?;
    let target = mdb.gtid_pos("gtid_binlog_pos").await;
    mdb.disconnect().await;
    let target = target?;
    info!(
        "{}: replicating from {}, waiting until it has executed {target}",
        returning.display_name(),
        master.display_name()
    );
    db.wait_gtid(&target, catch_up.as_secs().max(1)).await?;
    steps.push(format!("caught up with the master at {target}"));
    Ok(())
}

/// The CHANGE MASTER statement as the report shows it, the password masked.
pub(super) fn statement(db: &Session, master: &ServerConfig, user: &str) -> String {
    let masked = Secret::new("xxx");
    db.dialect()
        .change_master(master, Some(user), Some(&masked), &StartAt::Gtid, None)
}

/// Its block back into the configuration file, unless it is there (a removed block written
/// as it was; comments and everything else in the file kept). What was done, in words.
pub(super) fn write_back(config: &Config, returning: &Returning) -> Result<String, RejoinError> {
    let Some(b) = &returning.write_back else {
        return Ok(format!(
            "[{}] is in {}",
            returning.server.block,
            config.path.display()
        ));
    };
    let already = crate::config::parse_file(&config.path)?
        .blocks
        .iter()
        .any(|x| x.name == b.block);
    if !already {
        write::add_server_block(&config.path, &b.block, &b.hostname, &b.params)?;
    }
    Ok(format!(
        "[{}] written back to {}: {}",
        b.block,
        config.path.display(),
        b.from
    ))
}

/// The deposed-master marker, if any, says it rejoined: its watch is over.
pub(super) fn mark_rejoined(workdir: &Path, app: &str, s: &ServerConfig) {
    let path = deposed::marker_path(workdir, app, s);
    if let Some(mut m) = deposed::read_marker(&path) {
        m.state = crate::executor::deposed::MarkerState::Rejoined;
        let _ = deposed::write_marker(&path, &m);
    }
}

/// Tell the manager to read the configuration again, so that it counts the server as a
/// replica. What was done, in words; None when no manager runs.
pub(super) fn tell_manager(link: &ManagerLink, workdir: &Path, app: &str) -> Option<String> {
    match link {
        ManagerLink::InProcess(n) => {
            n.notify_one();
            Some("the manager reads the configuration again".into())
        }
        ManagerLink::Signal => {
            let r = crate::status::check(
                workdir,
                app,
                None,
                Duration::from_secs(3600),
                std::time::SystemTime::now(),
            );
            let pid = r.pid.filter(|&p| crate::status::pid_alive(p))?;
            let sent = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGHUP,
            );
            Some(match sent {
                Ok(()) => {
                    format!("told the manager (pid {pid}) to read the configuration again (SIGHUP)")
                }
                Err(e) => format!(
                    "could not tell the manager (pid {pid}) to read the configuration again ({e}): send it SIGHUP"
                ),
            })
        }
    }
}
