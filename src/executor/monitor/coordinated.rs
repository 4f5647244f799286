//! A manager coordinated with others through etcd (`etcd_endpoints`): it runs the usual
//! manager (`run_alone`) only while it leads the application; otherwise it stands by
//! (status STANDBY), looks at the servers without acting, and takes over when the leader's
//! lease expires. Losing the leadership stops the manager's monitor at once; a failover under
//! way is stopped by the fence before its next phase.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use super::{ManagerOptions, Outcome, StopSignal, run_alone};
use crate::config::Config;
use crate::executor::leadership::{Elector, LeaseFence, Role};
use crate::executor::observe::target;
use crate::status::{ManagerLock, Status, StatusFile};

pub(super) async fn run(
    opts: ManagerOptions,
    config: Arc<Config>,
    app_stop: Option<watch::Receiver<bool>>,
) -> Outcome {
    let settings = config.app.etcd.clone().expect("coordinated without etcd");
    let elector = Elector::start(&settings, &config.app_name, super::shared::me());
    let mut role = elector.role.clone();
    let mut stop = StopSignal::install(app_stop.clone());
    let workdir = opts
        .workdir
        .clone()
        .unwrap_or_else(|| config.app.manager_workdir.clone());
    loop {
        let fence = match stand_by(&config, &workdir, &mut role, &mut stop).await {
            Ok(f) => f,
            Err(outcome) => return outcome,
        };
        if !unfinished_failover(&config, &workdir, &fence, &mut role, &mut stop).await {
            continue;
        }
        let config = without_replaced_master(&config, fence.as_ref()).await;
        let outcome = lead(&opts, &config, fence.clone(), &mut role, app_stop.clone()).await;
        if stop.requested() || role.borrow().is_leader() && !lost_lead(&outcome, &fence).await {
            // Stopped, or ended on its own (start-up checks failed, --monitor_only...).
            elector.resign().await;
            return outcome;
        }
        // A failover stopped by the fence ends before the elector notices the loss.
        let settle = settings.lease_ttl + Duration::from_secs(1);
        let _ = tokio::time::timeout(settle, role.wait_for(|r| !r.is_leader())).await;
        warn!("No longer the leader of {}: standing by.", config.app_name);
    }
}

/// The manager ended with a failed failover because this manager no longer leads (the fence
/// stopped it): it stands by again instead of ending.
async fn lost_lead(outcome: &Outcome, fence: &LeaseFence) -> bool {
    use crate::executor::fence::Fence;
    matches!(outcome, Outcome::FailoverFailed(_)) && fence.prove().await.is_err()
}

/// The usual manager, stopped when the leadership is lost.
async fn lead(
    opts: &ManagerOptions,
    config: &Arc<Config>,
    fence: Arc<LeaseFence>,
    role: &mut watch::Receiver<Role>,
    app_stop: Option<watch::Receiver<bool>>,
) -> Outcome {
    let (tx, rx) = watch::channel(false);
    let mut lost = role.clone();
    let mut asked = app_stop;
    let forward = tokio::spawn(async move {
        let asked = async {
            match asked.as_mut() {
                Some(r) => {
                    let _ = r.wait_for(|s| *s).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = lost.wait_for(|r| !r.is_leader()) => {}
            _ = asked => {}
        }
        let _ = tx.send(true);
    });
    let mut opts = opts.clone();
    if let Some(f) = opts.failover.as_mut() {
        f.fence = Some(fence);
    }
    let outcome = run_alone(opts, config.clone(), Some(rx)).await;
    forward.abort();
    let _ = role.borrow_and_update();
    outcome
}

/// A failover that another manager started and never finished (it died, or lost the
/// leadership half way), as the new leader finds it. One that had not changed a surviving
/// server yet is run again from the start by this manager (its record is cleared, the
/// failover writes its own). One that had is reported, and this manager does nothing more
/// until an operator deletes the record (true), or it no longer leads or is stopped (false).
async fn unfinished_failover(
    config: &Config,
    workdir: &Path,
    fence: &LeaseFence,
    role: &mut watch::Receiver<Role>,
    stop: &mut StopSignal,
) -> bool {
    use crate::executor::fence::{Fence, SharedState};
    let key = fence.last_failover_key();
    let Ok(Some(f)) = fence.last_failover().await else {
        return true;
    };
    if f.state != SharedState::Running {
        return true;
    }
    let dead = f.dead_master.clone().unwrap_or_default();
    let phase = f.phase.as_deref().unwrap_or("none");
    if f.resumable() {
        warn!(
            "The failover of {dead} by {} stopped before phase 3.4 (last phase started: {phase}): no surviving server was changed yet; this manager runs it again.",
            f.by
        );
        forget_local_marker(config, workdir, &f.by);
        return fence.record_failover(None).await.is_ok();
    }
    error!(
        "The failover of {dead} by {} started and never finished (etcd key {key}; last phase started: {phase}): surviving servers were changed half way. This manager will not act until an operator has checked every server (the failover's journal is in that manager's manager_workdir), repaired, and deleted the key (etcdctl del {key}).",
        f.by
    );
    let mut status = StatusFile::new(workdir, &config.app_name);
    let _ = status.set(Status::FailoverError, Some(&dead));
    loop {
        tokio::select! {
            _ = stop.wait() => return false,
            _ = role.wait_for(|r| !r.is_leader()) => return false,
            _ = tokio::time::sleep(config.app.ping_interval) => {}
        }
        match fence.last_failover().await {
            Ok(Some(g)) if g == f => {}
            Ok(_) => {
                info!("{key} changed: the unfinished failover was acknowledged.");
                return true;
            }
            Err(e) => warn!("etcd: {key} cannot be read: {e}"),
        }
    }
}

/// The interrupted failover being run again was this host's (a manager killed and started
/// again): its error flag file in the workdir, naming the dead process, goes with its record.
fn forget_local_marker(config: &Config, workdir: &Path, by: &str) {
    use crate::executor::failover::{error_marker, markers};
    let me = super::shared::me();
    let (Some((host, pid)), Some((my_host, _))) = (by.rsplit_once(':'), me.rsplit_once(':')) else {
        return;
    };
    let pid: Option<u32> = pid.parse().ok();
    let owner = markers(workdir, &config.app_name).error_owner;
    if host == my_host && pid.is_some() && owner == pid.map(|p| (p, false)) {
        let path = error_marker(workdir, &config.app_name);
        if std::fs::remove_file(&path).is_ok() {
            info!("Removed {}: the same interrupted failover.", path.display());
        }
    }
}

/// The configuration less the master that the application's last failover (by any manager)
/// replaced: that one is dead or deposed, and the start-up checks would stop on it.
async fn without_replaced_master(config: &Arc<Config>, fence: &LeaseFence) -> Arc<Config> {
    use crate::executor::fence::{Fence, SharedState};
    let last = match fence.last_failover().await {
        Ok(Some(f)) if f.state == SharedState::Complete => f,
        _ => return config.clone(),
    };
    let Some(dead) = last
        .dead_master
        .filter(|d| config.servers.iter().any(|s| &s.display_name() == d))
    else {
        return config.clone();
    };
    info!(
        "The last failover (by {}) replaced {dead}: monitoring without it.",
        last.by
    );
    let mut c = (**config).clone();
    c.servers.retain(|s| s.display_name() != dead);
    Arc::new(c)
}

/// Stand by until this manager leads (its fence), or is stopped (Err: the outcome).
async fn stand_by(
    config: &Config,
    workdir: &Path,
    role: &mut watch::Receiver<Role>,
    stop: &mut StopSignal,
) -> Result<Arc<LeaseFence>, Outcome> {
    if let Err(source) = std::fs::create_dir_all(workdir) {
        return Err(Outcome::ConfigError(super::StartupError::Workdir {
            path: workdir.to_path_buf(),
            source,
        }));
    }
    let lock = ManagerLock::acquire(workdir, &config.app_name)
        .map_err(|e| Outcome::AlreadyRunning(e.into()))?;
    let mut status = StatusFile::new(workdir, &config.app_name);
    let mut seen = BTreeMap::new();
    loop {
        let current = role.borrow_and_update().clone();
        match current {
            Role::Leader(fence) => {
                status.remove();
                drop(lock);
                return Ok(fence);
            }
            Role::Standby { leader, why } => {
                let _ = status.set(Status::Standby, Some(leader.as_deref().unwrap_or("none")));
                if seen.is_empty() {
                    info!(
                        "Standing by ({why}); leader: {}",
                        leader.as_deref().unwrap_or("none")
                    );
                }
            }
        }
        look(config, &mut seen).await;
        tokio::select! {
            _ = stop.wait() => {
                info!("Got terminate signal. Exit.");
                status.remove();
                return Err(Outcome::Stopped);
            }
            _ = role.changed() => {}
            _ = tokio::time::sleep(config.app.ping_interval) => {}
        }
    }
}

/// A standby's passive look at the servers: whether each answers SQL, logged when it changes.
async fn look(config: &Config, seen: &mut BTreeMap<String, bool>) {
    let timeout = config.app.ping_interval.max(Duration::from_millis(500));
    let mut set = tokio::task::JoinSet::new();
    for s in &config.servers {
        let (name, t) = (s.display_name(), target(s));
        set.spawn(async move {
            let ok = match crate::sql::connect(&t, timeout).await {
                Ok(mut db) => {
                    let ok = db.ping_select().await.is_ok();
                    db.disconnect().await;
                    ok
                }
                Err(_) => false,
            };
            (name, ok)
        });
    }
    while let Some(Ok((name, ok))) = set.join_next().await {
        if seen.insert(name.clone(), ok) != Some(ok) {
            let word = if ok { "answers" } else { "does NOT answer" };
            info!("standby: {name} {word}");
        }
    }
}
