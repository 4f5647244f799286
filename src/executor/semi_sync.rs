//! Semi-sync on a new topology, for the failover and the switchover alike: the master side on
//! the new master before it takes writes ([`master_on`]), then the replica side on its
//! replicas, their IO threads restarted where that is what registers them, and a wait until
//! the new master counts them as acknowledging replicas ([`settle`]). What to turn on is the
//! engine's decision (`engine::semi_sync::keep`).
//!
//! None of this fails a failover or a switchover: the new master already runs. What could not
//! be done is logged and said in the report, so that durability never drops silently.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::ServerConfig;
use crate::executor::seams::{Db, World};
use crate::sql::DbError;
use crate::topology::{MasterSettings, ReplicaStatus, SemiSync};

/// What [`settle`] found and did, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settled {
    /// One line per thing done or not done.
    pub notes: Vec<String>,
    /// The new master's semi-sync state at the end.
    pub new_master: Option<SemiSync>,
    /// Everything asked for was done and the new master counts every replica-side replica.
    pub ok: bool,
}

/// The master side on the new master (with the old master's settings when known), before it
/// takes writes. The note for the report; a failure is logged and noted, not returned.
pub async fn master_on<W: World>(w: &W, new: &ServerConfig, keep: &MasterSettings) -> String {
    let name = new.display_name();
    let r = async {
        let mut db = w.connect(new, w.sql_timeout()).await?;
        db.semi_sync_master_on(keep).await?;
        db.disconnect().await;
        Ok::<_, DbError>(())
    }
    .await;
    match r {
        Ok(()) => {
            info!("{name}: semi-sync master side turned on");
            format!("{name}: semi-sync master side ON: commits wait for a replica")
        }
        Err(e) => {
            warn!("{name}: semi-sync master side could NOT be turned on: {e}");
            format!("{name}: semi-sync master side NOT turned on ({e}): commits are asynchronous")
        }
    }
}

/// The master side off and the replica side on for a server that becomes a replica (the old
/// master after a switchover), before its replication starts: a master side left on makes its
/// SQL thread wait for acknowledgements that never come.
pub async fn become_replica(db: &mut impl Db) -> Result<(), DbError> {
    if db.semi_sync().await?.is_some_and(|s| s.master_enabled) {
        db.semi_sync_master_off().await?;
    }
    db.semi_sync_slave_on().await
}

/// The replica side on every one of `replicas` that lacks it (a running IO thread restarted so
/// that it registers), then wait until `new` counts them all as acknowledging replicas, at most
/// `wait`.
pub async fn settle<W: World>(
    w: &W,
    new: &ServerConfig,
    replicas: &[ServerConfig],
    replica_side: bool,
    wait: Duration,
) -> Settled {
    let mut notes = Vec::new();
    let mut ok = true;
    let mut expected = 0u32;
    for s in replicas {
        match replica_on(w, s, replica_side).await {
            Ok((acknowledges, note)) => {
                expected += u32::from(acknowledges);
                notes.extend(note);
            }
            Err(e) => {
                ok = false;
                warn!("{}: semi-sync replica side: {e}", s.display_name());
                notes.push(format!(
                    "{}: semi-sync replica side NOT turned on ({e})",
                    s.display_name()
                ));
            }
        }
    }
    let new_master = wait_clients(w, new, expected, wait).await;
    let name = new.display_name();
    match &new_master {
        Some(m) if m.master_enabled && m.clients >= expected.max(1) => {
            info!("{name}: semi-sync {}", m.master_side());
            notes.push(format!("{name}: semi-sync {}", m.master_side()));
        }
        Some(m) => {
            ok = false;
            warn!(
                "{name}: semi-sync {} (expected {expected} acknowledging replica(s) within {wait:?})",
                m.master_side()
            );
            notes.push(format!(
                "{name}: semi-sync {}, expected {expected}",
                m.master_side()
            ));
        }
        None => {
            ok = false;
            notes.push(format!("{name}: semi-sync state could not be read"));
        }
    }
    Settled {
        notes,
        new_master,
        ok,
    }
}

/// One replica: its replica side on if asked and off (restarting a running IO thread), or its
/// IO thread restarted when its side is on but it is not registered. Whether it acknowledges
/// now, and a note when something was done.
async fn replica_on<W: World>(
    w: &W,
    s: &ServerConfig,
    replica_side: bool,
) -> Result<(bool, Option<String>), DbError> {
    let mut db = w.connect(s, w.sql_timeout()).await?;
    let semi = db.semi_sync().await?.unwrap_or_default();
    let io_running = db
        .replica_status_row()
        .await?
        .is_some_and(|r| ReplicaStatus::from_row(&r).io_running());
    let name = s.display_name();
    let note = if !semi.slave_enabled && replica_side {
        db.semi_sync_slave_on().await?;
        if io_running {
            restart_io_thread(&mut db).await?;
        }
        Some(format!(
            "{name}: semi-sync replica side turned on{}",
            if io_running {
                ", IO thread restarted"
            } else {
                ""
            }
        ))
    } else if semi.slave_enabled && !semi.slave_active && io_running {
        // Enabled after its IO thread connected: it registers only when it connects again.
        // Right after a START SLAVE it may simply still be connecting: give it a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = db.semi_sync().await?.unwrap_or_default();
        if now.slave_active {
            None
        } else {
            restart_io_thread(&mut db).await?;
            Some(format!(
                "{name}: IO thread restarted to register as a semi-sync replica"
            ))
        }
    } else {
        None
    };
    db.disconnect().await;
    Ok((semi.slave_enabled || replica_side, note))
}

async fn restart_io_thread(db: &mut impl Db) -> Result<(), DbError> {
    db.stop_io_thread().await?;
    db.start_io_thread().await
}

/// The new master's semi-sync state once it counts `expected` acknowledging replicas, or at
/// the end of `wait`.
async fn wait_clients<W: World>(
    w: &W,
    new: &ServerConfig,
    expected: u32,
    wait: Duration,
) -> Option<SemiSync> {
    let deadline = Instant::now() + wait;
    let mut db = w.connect(new, w.sql_timeout()).await.ok()?;
    loop {
        let now = db.semi_sync().await.ok().flatten();
        let enough = now
            .as_ref()
            .is_some_and(|m| !m.master_enabled || m.clients >= expected);
        if enough || Instant::now() >= deadline {
            db.disconnect().await;
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
