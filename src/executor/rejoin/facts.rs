//! What a rejoin looks at: the returning server's GTIDs and binlog, the current master's
//! GTIDs, and the failover record that says how far the new master got its binlog. Read
//! only; nothing here changes a server.

use std::path::Path;
use std::time::Duration;

use super::error::{NoMaster, RejoinError};
use super::locate::Returning;
use crate::config::{Config, ServerConfig};
use crate::engine::checks::{self, MasterView};
use crate::engine::rejoin::{self as decide, Facts, FileStart};
use crate::executor::observe::{observe, server_version, target};
use crate::sql::dialect::Dialect;
use crate::sql::{self, Session};
use crate::status::rejoin::{last_rejoined_unix, latest_failover_of};
use crate::topology::{BinlogEvent, BinlogPos, Flavour, MariaGtidPos};

/// Events per SHOW BINLOG EVENTS, and at most this many pages.
const PAGE: u64 = 10_000;
const MAX_EVENTS: usize = 2_000_000;

/// The current master: the one the other configured servers show, without the returning
/// server (a writable former master would compete with it).
pub(super) async fn current_master(
    config: &Config,
    returning: &ServerConfig,
) -> Result<ServerConfig, NoMaster> {
    let mut others = config.clone();
    others
        .servers
        .retain(|s| !(s.ip == returning.ip && s.port == returning.port));
    if others.servers.is_empty() {
        return Err(NoMaster::NoOtherServer);
    }
    let topo = observe(&others, config.app.timeouts.observe).await;
    let follow_it = topo.servers.iter().any(|o| {
        o.alive()
            .and_then(|st| st.replica.as_ref())
            .is_some_and(|r| {
                r.master_port == returning.port
                    && (r.master_host == returning.ip || r.master_host == returning.hostname)
            })
    });
    if follow_it {
        return Err(NoMaster::ItIsTheMaster(returning.display_name()));
    }
    match checks::find_master(&topo) {
        MasterView::Alive { index } => Ok(others.servers[topo.servers[index].order].clone()),
        MasterView::Unreachable { index } => Err(NoMaster::Unreachable(topo.servers[index].name())),
        MasterView::None => Err(NoMaster::None),
        MasterView::Several { indexes } => Err(NoMaster::Several(
            indexes.iter().map(|&i| topo.servers[i].name()).collect(),
        )),
    }
}

/// Connect to `s`, speaking its dialect; its flavour.
pub(super) async fn open(
    s: &ServerConfig,
    timeout: Duration,
) -> Result<(Session, Flavour), RejoinError> {
    let mut db = sql::connect(&target(s), timeout).await?;
    let version = server_version(&mut db).await?;
    db.set_dialect(Dialect::of(&version));
    Ok((db, version.flavour))
}

/// Everything `engine::rejoin::decide` needs, read from `db` (the returning server) and the
/// master.
pub(super) async fn gather(
    db: &mut Session,
    flavour: Flavour,
    returning: &Returning,
    master: &Result<ServerConfig, NoMaster>,
    config: &Config,
    workdir: &Path,
) -> Result<Facts, RejoinError> {
    let server = returning.server.display_name();
    let mut facts = Facts {
        server: server.clone(),
        server_id: 0,
        flavour,
        master: master
            .as_ref()
            .map(ServerConfig::display_name)
            .map_err(ToString::to_string),
        replicates_from_master: false,
        gtids: MariaGtidPos::default(),
        slave_pos: MariaGtidPos::default(),
        master_gtids: MariaGtidPos::default(),
        reached: reached(workdir, &config.app_name, &returning.server),
        scanned_from: None,
        txns: vec![],
        full_row_image: false,
    };
    let Ok(m) = master else {
        return Ok(facts);
    };
    if flavour != Flavour::MariaDb {
        return Ok(facts);
    }
    let look = db.rejoin_look().await?;
    facts.server_id = look.server_id;
    facts.gtids = look.gtids;
    facts.slave_pos = look.slave_pos;
    facts.full_row_image = look.binlog_row_image.eq_ignore_ascii_case("FULL");
    facts.replicates_from_master = replicates_from(db, m).await?;
    let (mut mdb, _) = open(m, config.app.timeouts.sql).await?;
    let master_gtids = mdb.master_gtid_state().await;
    mdb.disconnect().await;
    facts.master_gtids = master_gtids?;
    let files = file_starts(db, &facts.gtids, &facts.master_gtids).await?;
    facts.scanned_from = decide::scan_from(
        &files,
        &facts.gtids,
        &facts.master_gtids,
        facts.reached.as_ref(),
    );
    if let Some(from) = &facts.scanned_from {
        let names: Vec<String> = files.into_iter().map(|f| f.file).collect();
        let events = read_binlog(db, &server, &names, from).await?;
        facts.txns = decide::transactions(&events);
    }
    Ok(facts)
}

/// How far the new master got its binlog in the failover that deposed it, from the latest
/// such failover record, if it has not rejoined since.
fn reached(workdir: &Path, app: &str, s: &ServerConfig) -> Option<BinlogPos> {
    let f = latest_failover_of(workdir, app, &s.display_name())?;
    let rejoined = last_rejoined_unix(workdir, app, &s.hostname, s.port);
    if rejoined.is_some_and(|r| r >= f.started_unix) {
        return None;
    }
    f.dead_master_reached
}

/// Both replication threads run, from `m`.
async fn replicates_from(db: &mut Session, m: &ServerConfig) -> Result<bool, RejoinError> {
    Ok(db.replica_status().await?.is_some_and(|st| {
        st.master_port == m.port
            && (st.master_host == m.ip || st.master_host == m.hostname)
            && st.io_running()
            && st.sql_running()
    }))
}

/// Its binlog files, oldest first; with the state each began with (its `Gtid_list` event)
/// only when some of its GTIDs are beyond the master's, which is when that is needed.
async fn file_starts(
    db: &mut Session,
    ours: &MariaGtidPos,
    master: &MariaGtidPos,
) -> Result<Vec<FileStart>, RejoinError> {
    let need_states = !ours.not_in(master).is_empty();
    let mut out = Vec::new();
    for (file, _) in db.binary_logs().await? {
        let state = if need_states {
            db.binlog_events(&file, 0, 3)
                .await?
                .iter()
                .find(|e| e.kind == "Gtid_list")
                .and_then(|e| decide::gtid_list(&e.info))
                .unwrap_or_default()
        } else {
            MariaGtidPos::default()
        };
        out.push(FileStart { file, state });
    }
    Ok(out)
}

/// Every event from `from` to the end of its binlog, page by page.
async fn read_binlog(
    db: &mut Session,
    server: &str,
    files: &[String],
    from: &BinlogPos,
) -> Result<Vec<BinlogEvent>, RejoinError> {
    let mut out = Vec::new();
    for file in files
        .iter()
        .filter(|f| BinlogPos::new(f.as_str(), u64::MAX) >= *from)
    {
        let mut at = if *file == from.file { from.pos } else { 0 };
        loop {
            let page = db.binlog_events(file, at, PAGE).await?;
            let n = page.len() as u64;
            at = page.last().map(|e| e.end).unwrap_or(at);
            out.extend(page);
            if out.len() > MAX_EVENTS {
                return Err(RejoinError::BinlogTooLong {
                    server: server.into(),
                    from: from.to_string(),
                    limit: MAX_EVENTS,
                });
            }
            if n < PAGE {
                break;
            }
        }
    }
    Ok(out)
}
