//! The failover and semi-sync: after phase 1, what the cluster had (the replicas' own setting,
//! the manager's last look at the master) and whether it guaranteed that no acknowledged commit
//! was lost; after phases 4 and 5, the new topology settled (`executor::semi_sync`).

#[allow(unused_imports)]
use super::*;

use crate::engine::semi_sync::{self as rule, Guarantee, Keep, LastSeen};
use crate::executor::semi_sync::Settled;

/// The failover's semi-sync, as the report and its JSON carry it.
#[derive(Debug, Clone, Serialize)]
pub struct SemiSyncRecord {
    /// The report's line: `Semi-sync: guaranteed: ...` or `Semi-sync: no guarantee: ...`.
    pub line: String,
    pub guarantee: Guarantee,
    /// The manager's last look at the dead master, the guarantee's only source.
    pub last_seen: Option<LastSeen>,
    /// What is turned on in the new topology, and why.
    pub keep: Keep,
    /// What was done, once the new master and its replicas run.
    pub settled: Option<Settled>,
}

/// From phase 1's facts and the manager's finding: the guarantee and what to keep.
pub(super) fn assess(
    config: &Config,
    facts: &Facts,
    detected: Option<&Detected>,
) -> SemiSyncRecord {
    let last = detected.and_then(|d| d.semi_sync.as_deref().cloned());
    let surviving: Vec<String> = facts
        .replicas
        .iter()
        .map(|&i| facts.topo.servers[i].block.clone())
        .collect();
    let guarantee = rule::guarantee(last.as_ref(), &surviving);
    let replicas: Vec<(String, Option<&crate::topology::SemiSync>)> = facts
        .replicas
        .iter()
        .map(|&i| {
            let o = &facts.topo.servers[i];
            (o.name(), o.alive().and_then(|s| s.semi_sync.as_ref()))
        })
        .collect();
    let master = last.as_ref().map(|l| &l.semi_sync);
    let used = rule::used(master, &replicas);
    let old_settings = master
        .filter(|m| m.master_enabled)
        .map(|m| m.master_settings());
    // Every replica taking part but the new master (one of them) will follow it.
    let replicas_left = facts.replicas.len().saturating_sub(1);
    let keep = rule::keep(config.app.semi_sync, used, old_settings, replicas_left);
    let line = format!("Semi-sync: {guarantee}");
    info!("{line}");
    info!("Semi-sync: {keep}");
    SemiSyncRecord {
        line,
        guarantee,
        last_seen: last,
        keep,
        settled: None,
    }
}

/// Phase 5.1, after phases 4 and 5: the replica side on the new master's replicas (those phase
/// 4 recovered) and the new master counting them. Only when semi-sync is kept.
pub(super) async fn settle<W: World>(
    run: &mut Run<'_, W>,
    new_cfg: &ServerConfig,
) -> PResult<Done<()>> {
    let Some(rec) = run.rec.semi_sync.as_ref() else {
        return Ok(done((), vec![]));
    };
    let replica_side = rec.keep.replica_side;
    let replicas: Vec<ServerConfig> = run
        .rec
        .replicas
        .iter()
        .filter(|r| r.ok)
        .filter_map(|r| run.config.server(&r.id).cloned())
        .collect();
    let wait = run.world.timeouts().replication_start;
    let settled =
        crate::executor::semi_sync::settle(&run.world, new_cfg, &replicas, replica_side, wait)
            .await;
    let (ok, notes) = (settled.ok, settled.notes.clone());
    if let Some(rec) = run.rec.semi_sync.as_mut() {
        rec.settled = Some(settled);
    }
    Ok(Done {
        value: (),
        ok,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::fake::{Fake, Server, at, first};
    use crate::topology::{SemiSync, testing};

    /// db1 (dead), db2 and db3 its replicas with the replica side on.
    const CONF: &str = "\
[server default]
user=mha
password=secret
repl_user=repl
repl_password=replsecret
ssh_user=root
master_binlog_dir=/var/lib/mysql
semi_sync=SETTING

[server1]
hostname=db1

[server2]
hostname=db2
candidate_master=1

[server3]
hostname=db3
";

    fn replica(read_pos: u64, gtid: &str) -> Server {
        let mut s = Server::replica(gtid, testing::status_row("db1", read_pos, gtid, 0));
        s.state.semi_sync = Some(SemiSync {
            slave_enabled: true,
            slave_active: true,
            ..SemiSync::default()
        });
        s
    }

    async fn run(setting: &str) -> (FailoverRecord, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(dir.path())
            .server("db2", replica(1200, "0-1-12"))
            .server("db3", replica(1200, "0-1-12"));
        let config = crate::config::from_text(&CONF.replace("SETTING", setting));
        let opts = FailoverOptions {
            workdir: dir.path().join("work"),
            ..Default::default()
        };
        let rec = failover_in(fake.clone(), &config, &opts).await;
        (rec, fake.log())
    }

    #[tokio::test]
    async fn the_master_side_is_on_before_the_new_master_takes_writes() {
        let (rec, log) = run("auto").await;
        assert_eq!(rec.new_master.as_deref(), Some("db2(db2:3306)"), "{log:#?}");
        assert!(
            at(&log, "db2: semi_sync_master=1") < at(&log, "db2: read_only=0"),
            "{log:#?}"
        );
        // db3 had the replica side and is registered: nothing to change on it.
        assert_eq!(first(&log, "db3: semi_sync"), None, "{log:#?}");
        assert!(
            rec.phases.iter().any(|p| p.phase == "5.1"),
            "{:?}",
            rec.phases
        );
        let semi = rec.semi_sync.unwrap();
        // No manager looked at db1: no guarantee, but semi-sync is kept.
        assert!(!semi.guarantee.held());
        assert!(semi.line.contains("was not seen"), "{}", semi.line);
        assert!(semi.keep.replica_side);
    }

    #[tokio::test]
    async fn semi_sync_off_changes_nothing() {
        let (rec, log) = run("off").await;
        assert_eq!(rec.new_master.as_deref(), Some("db2(db2:3306)"), "{log:#?}");
        assert!(!log.iter().any(|l| l.contains("semi_sync")), "{log:#?}");
        assert!(
            !rec.phases.iter().any(|p| p.phase == "5.1"),
            "{:?}",
            rec.phases
        );
    }
}
