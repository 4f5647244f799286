//! Position-based recovery (MHA's apply_diff_relay_logs): what a server behind the latest
//! replica lacks is cut out of the latest replica's relay logs, read over SSH and parsed on
//! the manager (`binlog::relay`), written to `manager_workdir`, and applied with
//! `mariadb-binlog | mariadb`, as the dead master's saved tail is. No tool runs on the
//! database hosts but a shell (`ls`, `wc`, `cat`).

#[allow(unused_imports)]
use super::*;
use crate::binlog::relay::{self, RelayError, RelayFile};
use crate::executor::check_repl::{relay_dir, relay_files};

/// What one server behind the latest replica gets from the latest replica's relay logs.
#[derive(Debug, Clone)]
pub(super) struct DiffFile {
    /// None when there was nothing to cut.
    pub(super) path: Option<PathBuf>,
    pub(super) gtids: Vec<String>,
    pub(super) events: usize,
    /// The master coordinates: after what the server executed, up to what the latest
    /// replica executed.
    pub(super) after: BinlogPos,
    pub(super) up_to: BinlogPos,
}

impl DiffFile {
    /// In the report's words.
    pub(super) fn describe(&self, source: &str) -> String {
        format!(
            "{} transaction(s) ({} events) from {source} (master coordinates after {} up to {})",
            self.gtids.len(),
            self.events,
            self.after,
            self.up_to
        )
    }
}

/// Why a server has no relay-log diff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum NoDiff {
    /// Where the relay logs are could not be read from the latest replica.
    #[error("{0}")]
    Location(String),
    #[error("{what} over SSH: {error}")]
    Ssh { what: String, error: String },
    #[error("cannot list {dir} over SSH: {stderr}")]
    List { dir: String, stderr: String },
    #[error("cannot read {path} over SSH")]
    Unreadable { path: String },
    #[error("{path}: {arrived} of {size} bytes arrived")]
    CutShort {
        path: String,
        arrived: usize,
        size: usize,
    },
    #[error("no relay log {prefix}.NNNNNN in {dir}")]
    NoRelayLog { prefix: String, dir: String },
    /// The relay logs read do not hold the range (see `binlog::relay::RelayError`).
    #[error("{0}")]
    Relay(String),
}

/// The diffs cut in phase 3.4, per server (by index into the topology): the file, or why
/// there is none (the relay logs could not be read, or do not reach back far enough).
#[derive(Debug, Clone, Default)]
pub(super) struct RelayDiffs {
    /// `relay logs of the latest replica H(IP:PORT)`.
    pub(super) source: String,
    pub(super) per: Vec<(usize, Result<DiffFile, NoDiff>)>,
}

impl RelayDiffs {
    pub(super) fn of(&self, idx: usize) -> Option<&Result<DiffFile, NoDiff>> {
        self.per.iter().find(|(i, _)| *i == idx).map(|(_, d)| d)
    }
}

/// Relay log bytes as read: (name, bytes) in order, and the master coordinate the first
/// master event starts at when they were read from the middle of a file.
type Read = (Vec<(String, Vec<u8>)>, Option<BinlogPos>);

/// The latest replica's relay logs: only the end of the one its SQL thread stands in when
/// that holds all that is needed (MHA's fast path), else whole, newest first over SSH, until
/// they reach back to `need_from` (an older one is read only while the ones read do not
/// cover it).
async fn read_relay_logs<W: World>(
    w: &W,
    latest: &ServerConfig,
    status: &ReplicaStatus,
    need_from: &BinlogPos,
    up_to: &BinlogPos,
) -> Result<Read, NoDiff> {
    let location = |e: &dyn std::fmt::Display| NoDiff::Location(e.to_string());
    let mut db = session(w, latest).await.map_err(|e| location(&e))?;
    let (basename, datadir) = db.relay_log_location().await.map_err(|e| location(&e))?;
    db.disconnect().await;
    let (dir, prefix) = relay_dir(&basename, &datadir, &status.relay_log_file);
    if let Some(read) = read_tail(w, latest, status, &dir, need_from, up_to).await {
        return Ok(read);
    }
    // Each command moves a relay log, as phase 3.2's move a binlog file: the same bound.
    let timeout = w.timeouts().binlog_save;
    let dir_q = crate::hooks::shell_quote(&dir);
    let out = w
        .ssh_exec(&latest.ssh, &format!("ls -1 {dir_q}"), timeout)
        .await
        .map_err(|e| NoDiff::Ssh {
            what: format!("listing {dir}"),
            error: e.to_string(),
        })?;
    if !out.success() {
        return Err(NoDiff::List {
            dir,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let names = relay_files(&String::from_utf8_lossy(&out.stdout), &prefix);
    let mut read: Vec<(String, Vec<u8>)> = Vec::new();
    for name in names.iter().rev() {
        let path_q = crate::hooks::shell_quote(&format!("{dir}/{name}"));
        let got = w
            .ssh_exec(
                &latest.ssh,
                &format!("wc -c < {path_q} && cat {path_q}"),
                timeout,
            )
            .await
            .map_err(|e| NoDiff::Ssh {
                what: format!("reading {dir}/{name}"),
                error: e.to_string(),
            })?;
        read.insert(0, (name.clone(), sized(&got.stdout, &dir, name)?));
        let files: Vec<RelayFile<'_>> = read
            .iter()
            .map(|(name, bytes)| RelayFile { name, bytes })
            .collect();
        match relay::relay_diff(&files, need_from, up_to) {
            Err(RelayError::NoStart { .. } | RelayError::MasterFileUnknown { .. }) => continue,
            _ => break,
        }
    }
    if read.is_empty() {
        return Err(NoDiff::NoRelayLog { prefix, dir });
    }
    Ok((read, None))
}

/// The fast path: the head and the end of the relay log the latest replica's SQL thread
/// stands in, from where `need_from` should be (see `binlog::relay::tail_offset`); None when
/// it is not there or the range spans master files.
async fn read_tail<W: World>(
    w: &W,
    latest: &ServerConfig,
    status: &ReplicaStatus,
    dir: &str,
    need_from: &BinlogPos,
    up_to: &BinlogPos,
) -> Option<Read> {
    if need_from.file != up_to.file || status.exec_pos.as_ref() != Some(up_to) {
        return None;
    }
    let at = relay::tail_offset(status.relay_log_pos, up_to.pos, need_from.pos)?;
    let name = status.relay_log_file.rsplit('/').next()?;
    let path_q = crate::hooks::shell_quote(&format!("{dir}/{name}"));
    // One round trip: the header's length, the header (the relay log's format description
    // and the master's, at its start), then the bytes from the offset on.
    let cmd = format!(
        "h=$(head -c 65536 {path_q} | wc -c) && echo \"$h\" && head -c \"$h\" {path_q} && tail -c +{} {path_q}",
        at + 1
    );
    let out = w
        .ssh_exec(&latest.ssh, &cmd, w.timeouts().binlog_save)
        .await
        .ok()
        .filter(|o| o.success())?;
    let got = &out.stdout;
    let nl = got.iter().position(|b| *b == b'\n')?;
    let head_len: usize = String::from_utf8_lossy(&got[..nl]).trim().parse().ok()?;
    let (head, tail) = got.get(nl + 1..)?.split_at_checked(head_len)?;
    let bytes = relay::tail_from(head, tail, need_from.pos)?;
    Some((
        vec![(format!("{name} from offset {at}"), bytes)],
        Some(need_from.clone()),
    ))
}

/// `wc -c` then the bytes: the bytes, if all arrived.
fn sized(got: &[u8], dir: &str, name: &str) -> Result<Vec<u8>, NoDiff> {
    let path = format!("{dir}/{name}");
    let nl = got.iter().position(|b| *b == b'\n').unwrap_or(got.len());
    let size: usize = String::from_utf8_lossy(&got[..nl])
        .trim()
        .parse()
        .map_err(|_| NoDiff::Unreadable { path: path.clone() })?;
    let bytes = got.get(nl + 1..).unwrap_or_default();
    if bytes.len() != size {
        return Err(NoDiff::CutShort {
            path,
            arrived: bytes.len(),
            size,
        });
    }
    Ok(bytes.to_vec())
}

/// The diffs from the first of `sources` (equally advanced replicas, the latest first) whose
/// relay logs give every server behind its diff; else those of the first source. A replica
/// that purges its relay logs (relay_log_purge=1) can be the latest while another, as far,
/// kept them.
pub(super) async fn cut_relay_diffs<W: World>(
    run: &Run<'_, W>,
    topo: &Topology,
    sources: &[&Applied],
    behind: &[(usize, BinlogPos)],
) -> PResult<RelayDiffs> {
    let mut first: Option<RelayDiffs> = None;
    for (k, latest) in sources.iter().enumerate() {
        let diffs = cut_relay_diffs_from(run, topo, latest, behind).await?;
        if diffs.per.iter().all(|(_, d)| d.is_ok()) {
            return Ok(diffs);
        }
        if let Some(next) = sources.get(k + 1) {
            let next = run.server(topo.servers[next.idx].order).display_name();
            info!(
                "{}: not every diff could be cut; trying the relay logs of {next}, as advanced",
                diffs.source
            );
        }
        first.get_or_insert(diffs);
    }
    Ok(first.unwrap_or_default())
}

/// The diff of every server behind the latest replica (`behind`: index, master coordinate it
/// executed), cut from the latest replica's relay logs up to `up_to` (what it executed) and
/// written to `workdir`. A server whose diff cannot be had gets the reason instead.
async fn cut_relay_diffs_from<W: World>(
    run: &Run<'_, W>,
    topo: &Topology,
    latest: &Applied,
    behind: &[(usize, BinlogPos)],
) -> PResult<RelayDiffs> {
    let latest_cfg = run.server(topo.servers[latest.idx].order).clone();
    let up_to = latest
        .status
        .exec_pos
        .clone()
        .unwrap_or_else(|| BinlogPos::new("", 0));
    let source = format!(
        "relay logs of the latest replica {}",
        latest_cfg.display_name()
    );
    let mut diffs = RelayDiffs {
        source: source.clone(),
        per: vec![],
    };
    let Some(need_from) = behind.iter().map(|(_, p)| p).min() else {
        return Ok(diffs);
    };
    let t = Instant::now();
    let read = read_relay_logs(&run.world, &latest_cfg, &latest.status, need_from, &up_to).await;
    let read_ms = t.elapsed().as_millis();
    let (read, start) = match read {
        Ok(read) => read,
        Err(why) => {
            warn!("{source}: {why}");
            diffs.per = behind.iter().map(|(i, _)| (*i, Err(why.clone()))).collect();
            return Ok(diffs);
        }
    };
    let files: Vec<RelayFile<'_>> = read
        .iter()
        .map(|(name, bytes)| RelayFile { name, bytes })
        .collect();
    let bytes: usize = read.iter().map(|(_, b)| b.len()).sum();
    info!(
        "Read {} relay log(s) ({bytes} bytes, {read_ms} ms) of {}: {}",
        read.len(),
        latest_cfg.display_name(),
        read.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ts = now_unix();
    for (i, after) in behind {
        let s = run.server(topo.servers[*i].order);
        let file = match relay::relay_diff_at(&files, start.as_ref(), after, &up_to) {
            Ok(d) => {
                let name = format!(
                    "relay_from_{}_{}_to_{}_{}_{ts}.binlog",
                    latest_cfg.hostname, latest_cfg.port, s.hostname, s.port
                );
                diff_file(&run.opts.workdir.join(name), d, after, &up_to)?
            }
            Err(e) => {
                warn!("{}: no relay-log diff from {source}: {e}", s.display_name());
                diffs.per.push((*i, Err(NoDiff::Relay(e.to_string()))));
                continue;
            }
        };
        info!("{}: {}", s.display_name(), file.describe(&source));
        diffs.per.push((*i, Ok(file)));
    }
    Ok(diffs)
}

/// A diff written to `path` (when it holds anything).
fn diff_file(
    path: &Path,
    d: relay::RelayDiff,
    after: &BinlogPos,
    up_to: &BinlogPos,
) -> PResult<DiffFile> {
    let path = if d.is_empty() {
        None
    } else {
        std::fs::write(path, &d.bytes).map_err(|e| FailoverError::Local {
            what: format!("a relay-log diff file {}", path.display()),
            error: e.to_string(),
        })?;
        Some(path.to_path_buf())
    };
    Ok(DiffFile {
        path,
        gtids: d.gtids,
        events: d.events,
        after: after.clone(),
        up_to: up_to.clone(),
    })
}

/// The servers behind the latest replica, by what they executed (`new_master_exec`: the new
/// master's, read again after its replication stopped). A delayed replica is left out: it
/// keeps its delay and follows by GTID.
pub(super) fn behind_latest(
    latest: &Latest,
    new_master: usize,
    new_master_exec: Option<BinlogPos>,
) -> Vec<(usize, BinlogPos)> {
    let up_to = latest.exec_pos();
    latest
        .applied
        .iter()
        .filter(|a| a.idx != latest.latest.idx && (!a.delayed || a.idx == new_master))
        .filter_map(|a| {
            let exec = if a.idx == new_master {
                new_master_exec.clone()
            } else {
                a.status.exec_pos.clone()
            }?;
            (exec < up_to).then_some((a.idx, exec))
        })
        .collect()
}

/// Phase 3.4 by positions: the new master gets what it lacks from the latest replica's relay
/// logs (the diffs of the others are cut at the same time, from the same read, for phase 4).
pub(super) async fn replay_on_new_master<W: World>(
    run: &mut Run<'_, W>,
    db: &mut W::Db,
    latest: &Latest,
    new_master: &NewMaster,
    notes: &mut Vec<String>,
) -> PResult<RelayDiffs> {
    // Read again now that its replication is stopped: a delayed new master applied more
    // since phase 3.1.
    let exec = replica_status(db).await?.and_then(|(st, _)| st.exec_pos);
    let behind = behind_latest(latest, new_master.idx, exec);
    let sources = latest.diff_sources();
    let diffs = cut_relay_diffs(run, &new_master.topo, &sources, &behind).await?;
    let new_cfg = &new_master.cfg;
    let Some(mine) = diffs.of(new_master.idx) else {
        return Ok(diffs);
    };
    let d = mine.as_ref().map_err(|why| FailoverError::Apply {
        server: new_cfg.display_name(),
        why: format!("no relay-log diff from the {}: {why}", diffs.source),
    })?;
    let Some(path) = &d.path else {
        return Ok(diffs);
    };
    let before = gtid_var(db, "gtid_binlog_pos").await?;
    let t = Instant::now();
    apply_binlogs(new_cfg, std::slice::from_ref(path), &run.opts.workdir)
        .await
        .map_err(|e| FailoverError::Apply {
            server: new_cfg.display_name(),
            why: format!("applying the relay-log diff: {e}"),
        })?;
    info!(
        "{}: applied the relay-log diff ({} transaction(s)) in {} ms",
        new_cfg.display_name(),
        d.gtids.len(),
        t.elapsed().as_millis()
    );
    let after = gtid_var(db, "gtid_binlog_pos").await?;
    let got = landed(&d.gtids, &before, &after);
    if !got.is_empty() {
        run.rec.recovered.push(Recovered {
            from: format!(
                "{} (master coordinates after {} up to {})",
                diffs.source, d.after, d.up_to
            ),
            gtids: got.join(","),
        });
    }
    notes.push(format!("applied {}", d.describe(&diffs.source)));
    Ok(diffs)
}

/// Phase 4 by positions, for one replica (not delayed): its diff and the dead master's
/// saved tail applied, its `gtid_slave_pos` made to cover them, then it replicates from the
/// new master's binlog coordinates (where the new master stood once it had applied the same).
pub(super) struct Replay {
    pub(super) diff: Option<Result<DiffFile, NoDiff>>,
    pub(super) source: String,
    pub(super) tail: Vec<PathBuf>,
    pub(super) tail_gtids: Vec<String>,
    pub(super) coords: BinlogPos,
    pub(super) workdir: PathBuf,
}

pub(super) async fn replay_on_replica(
    w: impl World,
    s: ServerConfig,
    new: ServerConfig,
    repl_user: Option<String>,
    repl_password: Option<Secret>,
    job: Replay,
) -> PResult<String> {
    let mut db = session(&w, &s).await?;
    let heartbeat = db.heartbeat_period().await;
    db.stop_replica().await?;
    let diff = match job.diff {
        Some(Err(why)) => {
            return Err(FailoverError::replica(
                s.display_name(),
                ReplicaProblem::NoRelayDiff {
                    relay_logs: job.source,
                    why: why.to_string(),
                },
            ));
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };
    let mut files: Vec<PathBuf> = diff.iter().filter_map(|d| d.path.clone()).collect();
    files.extend(job.tail.iter().cloned());
    let mut applied: Vec<String> = diff.iter().flat_map(|d| d.gtids.clone()).collect();
    applied.extend(job.tail_gtids.iter().cloned());
    let slave_pos = gtid_var(&mut db, "gtid_slave_pos").await?;
    if !files.is_empty() {
        let t = Instant::now();
        apply_binlogs(&s, &files, &job.workdir)
            .await
            .map_err(|e| FailoverError::Apply {
                server: s.display_name(),
                why: format!("applying the relay-log diff and the saved binlog: {e}"),
            })?;
        info!(
            "{}: applied {} transaction(s) in {} ms",
            s.display_name(),
            applied.len(),
            t.elapsed().as_millis()
        );
    }
    slave_pos_covers(&mut db, &slave_pos, &applied).await?;
    db.point_at(
        Toward::NewMasterCoordinates,
        &new,
        repl_user.as_deref(),
        repl_password.as_ref(),
        &StartAt::Coords(job.coords.clone()),
        heartbeat,
    )
    .await?;
    db.start_replica().await?;
    wait_threads(&mut db, w.timeouts().replication_start).await?;
    db.disconnect().await;
    let mut detail = format!(
        "Slave started, replicating from {} at {}",
        new.display_name(),
        job.coords
    );
    if let Some(d) = &diff {
        detail.push_str(&format!("; applied {}", d.describe(&job.source)));
    }
    if !job.tail_gtids.is_empty() {
        detail.push_str(&format!(
            "; applied the saved binlog ({} transaction(s))",
            job.tail_gtids.len()
        ));
    }
    Ok(detail)
}

/// A client session applied `applied`: they are in gtid_binlog_pos (with log_bin), never in
/// gtid_slave_pos. It becomes, per domain, the latest of what replication (`slave_pos`), the
/// binlog and the files reached, so that switching this replica to GTID later asks for
/// nothing twice (and, without log_bin, still knows what it has).
async fn slave_pos_covers(
    db: &mut impl Db,
    slave_pos: &GtidPos,
    applied: &[String],
) -> PResult<()> {
    let binlog = gtid_var(db, "gtid_binlog_pos").await?;
    let mut pos = slave_pos.union(&binlog);
    for g in applied {
        if let Ok(one) = slave_pos.parse_like(g) {
            pos = pos.union(&one);
        }
    }
    Ok(db.set_slave_pos(&pos.last_per_domain()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_relay_logs_are() {
        assert_eq!(
            relay_dir(
                "/var/lib/mysql/relay-bin",
                "/var/lib/mysql/",
                "relay-bin.000004"
            ),
            ("/var/lib/mysql".to_string(), "relay-bin".to_string())
        );
        assert_eq!(
            relay_dir("", "/var/lib/mysql/", "./db2-relay-bin.000004"),
            ("/var/lib/mysql".to_string(), "db2-relay-bin".to_string())
        );
        let listing = "relay-bin.index\nrelay-bin.000010\nrelay-bin.000009\nrelay-bin.1000000\nmysql-bin.000001\nrelay-log.info\n";
        assert_eq!(
            relay_files(listing, "relay-bin"),
            ["relay-bin.000009", "relay-bin.000010", "relay-bin.1000000"]
        );
        assert_eq!(sized(b"3\nabc", "d", "f"), Ok(b"abc".to_vec()));
        assert!(sized(b"4\nabc", "d", "f").is_err());
        assert!(sized(b"", "d", "f").is_err());
    }
}
