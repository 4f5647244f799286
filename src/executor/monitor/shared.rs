//! The application's last failover in etcd, beside the workdir's marker files, when managers
//! are coordinated (`FailoverOptions::fence`): the block period and a failover that another
//! manager left half done hold for every manager of the application.

use tracing::{error, info, warn};

use crate::config::Config;
use crate::engine::guard::{self, Markers};
use crate::executor::failover::{self, FailoverOptions, FailoverRecord};
use crate::executor::fence::{SharedFailover, SharedState};

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This manager, as etcd names it: `host:pid`.
pub(crate) fn me() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

/// The workdir's markers with the shared one; one that cannot be read counts as a failed
/// failover (no failover while etcd cannot say there was none).
pub(super) async fn markers(m: Markers, fo: &FailoverOptions) -> Markers {
    let Some(fence) = &fo.fence else {
        return m;
    };
    let key = fence.last_failover_key();
    match fence.last_failover().await {
        Ok(shared) => guard::with_shared(m, shared.as_ref(), &key),
        Err(e) => Markers {
            error_exists: true,
            error_owner: None,
            error_path: format!("etcd key {key} (cannot be read: {e})"),
            ..m
        },
    }
}

/// A failover starts: recorded as running; what was recorded before, to restore if the
/// failover changes nothing.
pub(super) async fn begin(fo: &FailoverOptions, dead: &str) -> Option<SharedFailover> {
    let fence = fo.fence.as_ref()?;
    let before = fence.last_failover().await.ok().flatten();
    let running = SharedFailover {
        phase: None,
        at_unix: now_unix(),
        state: SharedState::Running,
        by: me(),
        dead_master: Some(dead.to_string()),
    };
    if let Err(e) = fence.record_failover(Some(running)).await {
        warn!("etcd: the failover could not be recorded as running: {e}");
    }
    before
}

/// The failover ended: complete, failed, or (refused, dry run) as before it.
pub(super) async fn end(
    fo: &FailoverOptions,
    dead: &str,
    before: Option<SharedFailover>,
    outcome: failover::Outcome,
) {
    let Some(fence) = &fo.fence else {
        return;
    };
    // A manager that no longer leads leaves the record as its last proof wrote it (running,
    // and how far): the next leader decides from it, even while this manager's lease has not
    // yet expired in etcd.
    if let Err(why) = fence.prove().await {
        warn!(
            "etcd: not recording the failover's end ({why}): {} is left for the next leader",
            fence.last_failover_key()
        );
        return;
    }
    use failover::Outcome as O;
    let state = match outcome {
        O::Success | O::Partial | O::DataNotRecovered => SharedState::Complete,
        O::Refused | O::DryRun => {
            let _ = fence.record_failover(before).await;
            return;
        }
        _ => SharedState::Failed,
    };
    let f = SharedFailover {
        phase: None,
        at_unix: now_unix(),
        state,
        by: me(),
        dead_master: Some(dead.to_string()),
    };
    match fence.record_failover(Some(f)).await {
        Ok(()) => info!("etcd: failover recorded at {}", fence.last_failover_key()),
        Err(e) => error!(
            "etcd: the failover's end could not be recorded at {} ({e}): other managers see it as unfinished",
            fence.last_failover_key()
        ),
    }
}

/// A failover by hand (`master_switch --master_state=dead`) that holds the application's
/// leadership (`fo.fence`): refused by the last failover in etcd as a manager's would be
/// (without waiting: the operator is there, and acknowledges by deleting the key or with
/// `--ignore_last_failover`), then recorded as running and as it ended, as a manager
/// records its own. Without a fence, the failover as it is.
pub(crate) async fn manual_failover(
    config: &Config,
    fo: &FailoverOptions,
    dead: &str,
) -> FailoverRecord {
    if fo.fence.is_some() {
        let m = markers(failover::markers(&fo.workdir, &config.app_name), fo).await;
        let (minute, ignore) = (fo.last_failover_minute, fo.ignore_last_failover);
        if let Err(r) = guard::check(&m, now_unix(), minute, ignore) {
            let e = failover::FailoverError::from(crate::engine::plan::Refusal::Guard(r));
            error!("{e}");
            return FailoverRecord {
                outcome: failover::Outcome::Refused,
                error: Some(e.to_string()),
                dead_master: Some(dead.to_string()),
                ..FailoverRecord::new(&config.app_name, now_unix())
            };
        }
    }
    let before = begin(fo, dead).await;
    let rec = failover::failover(config, fo).await;
    end(fo, dead, before, rec.outcome).await;
    rec
}
