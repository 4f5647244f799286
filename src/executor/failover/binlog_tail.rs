//! The dead master's binlog after what the latest replica executed: read over SSH from its
//! host or from binlog servers, checked with the binlog parser, applied on the new master.

#[allow(unused_imports)]
use super::*;

/// A host holding the dead master's binlog files, read over SSH: the dead master itself or a
/// binlog server (`[binlogN]`, e.g. `mariadb-binlog --read-from-remote-server --raw
/// --stop-never`), whose files carry the master's names and offsets.
pub(super) struct BinlogSource<'a> {
    /// For messages and the record: `dead master db1(10.0.0.1:3306)`, `binlog server binlog1(...)`.
    pub(super) label: String,
    /// Names the saved files.
    pub(super) file_tag: String,
    pub(super) ssh: &'a crate::config::SshConfig,
    pub(super) dirs: &'a [PathBuf],
}

impl<'a> BinlogSource<'a> {
    pub(super) fn dead_master(s: &'a ServerConfig) -> Self {
        BinlogSource {
            label: format!("dead master {}", s.display_name()),
            file_tag: format!("master_binlog_from_{}_{}", s.hostname, s.port),
            ssh: &s.ssh,
            dirs: &s.master_binlog_dir,
        }
    }

    pub(super) fn binlog_server(b: &'a crate::config::BinlogServerConfig) -> Self {
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
pub(super) struct SavedTail {
    /// One readable binlog file per binlog file of the source, in order.
    pub(super) files: Vec<PathBuf>,
    /// The GTIDs of the whole transactions saved, in order.
    pub(super) gtids: Vec<String>,
    /// The master's binlog coordinate right after the last event saved (`from` when nothing
    /// followed it): how far this source reaches.
    pub(super) end: BinlogPos,
}

/// The master's binlog from `from` to its end, read over SSH from `src`: one readable file per
/// binlog file (the first with its format description header prepended). Only the tail of the
/// first file travels, not the whole file.
pub(super) async fn save_binlog_tail(
    w: &impl World,
    src: &BinlogSource<'_>,
    from: &BinlogPos,
    workdir: &Path,
) -> PResult<SavedTail> {
    let timeout = w.timeouts().binlog_save;
    // One round trip: the directory holding the file, then that directory's listing.
    let find = crate::executor::check_repl::in_first_dir_holding(
        src.dirs,
        &from.file,
        "echo \"$d\"; ls -1 \"$d\"",
    );
    let err = |error: crate::ssh::SshError| FailoverError::Ssh {
        host: src.label.clone(),
        error,
    };
    let out = w.ssh_exec(src.ssh, &find, timeout).await.map_err(err)?;
    if !out.success() {
        return Err(FailoverError::Binlog {
            source_label: src.label.clone(),
            why: format!(
                "{} not found in master_binlog_dir ({})",
                from.file,
                src.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        });
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
        let got = w
            .ssh_exec(src.ssh, &cmd, timeout)
            .await
            .map_err(err)?
            .stdout;
        let (fde, events, start) = committed_events(&src.label, &path, &got, tail_from)?;
        if events.is_empty() {
            continue;
        }
        gtids.extend(binlog::gtids(events));
        end = BinlogPos::new(name.clone(), (start + events.len()) as u64);
        let mut out = fde.to_vec();
        out.extend_from_slice(events);
        let local = workdir.join(format!("saved_{}_{ts}_{}.binlog", src.file_tag, k + 1));
        std::fs::write(&local, out).map_err(|e| local_error(&local.display().to_string(), e))?;
        saved.push(local);
    }
    Ok(SavedTail {
        files: saved,
        gtids,
        end,
    })
}

/// One file as fetched ("<header length> <file size>\n", the header, the bytes from
/// `tail_from` on): its format description header, and the whole, committed events after
/// `tail_from` with the offset they start at. A torn last event, or a transaction whose end
/// was never written (a crash), is cut off: it was never acknowledged.
fn committed_events<'a>(
    label: &str,
    path: &str,
    got: &'a [u8],
    tail_from: usize,
) -> PResult<(&'a [u8], &'a [u8], usize)> {
    let bad = |why: String| FailoverError::Binlog {
        source_label: label.to_string(),
        why: format!("{path}: {why}"),
    };
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
    let fde = binlog::format_description(head).map_err(|e| bad(e.to_string()))?;
    let fde_end = fde.end;
    let start = tail_from.max(fde_end);
    let events: &[u8] = rest.get(start - tail_from..).unwrap_or_default();
    // With checksums (CRC32, both flavours' default), a torn write whose length field
    // survived is found by its checksum.
    let whole = binlog::checked_events_len(events, fde.checksum);
    if whole < events.len() {
        warn!(
            "{label}: {path}: the last {} bytes are a torn event (crash); cut at offset {}",
            events.len() - whole,
            start + whole
        );
    }
    let mut events = &events[..whole];
    // Its events are whole, but its XID (COMMIT) was never written: applied, it would be
    // rolled back; it was never acknowledged. Not applied, not listed.
    if let Some((gtid, at)) = binlog::torn_group(events) {
        warn!(
            "{label}: {path}: transaction {gtid} has no end (a crash during its write): not applied; cut at offset {}",
            start + at
        );
        events = &events[..at];
    }
    Ok((&head[..fde_end], events, start))
}

pub(super) fn client_defaults(
    workdir: &Path,
    s: &ServerConfig,
) -> PResult<tempfile::NamedTempFile> {
    crate::executor::client::client_defaults(workdir, s)
        .map_err(|e| local_error("a client option file in the workdir", e))
}

/// The flavour of the server that wrote a binlog file, from its format description event
/// (MariaDB by default: what `mha` always ran with).
pub(super) fn flavour_of_binlog(path: &Path) -> Flavour {
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    match binlog::format_description(&head[..n]) {
        Ok(fd) if !fd.server_version.to_ascii_lowercase().contains("mariadb") => Flavour::MySql,
        _ => Flavour::MariaDb,
    }
}

/// What the client runs around the decoded events. MySQL replicas usually run with
/// super_read_only=ON, which stops even the failover's own (SUPER) session: it is lifted for
/// that session's statements and put back as it was, read_only staying on.
fn wrapped(flavour: Flavour, decoded: &[u8]) -> Vec<u8> {
    match flavour {
        Flavour::MariaDb => decoded.to_vec(),
        Flavour::MySql => {
            let mut out =
                b"SET @mha_super_read_only = @@global.super_read_only;\nSET GLOBAL super_read_only = 0;\n"
                    .to_vec();
            out.extend_from_slice(decoded);
            out.extend_from_slice(b"\nSET GLOBAL super_read_only = @mha_super_read_only;\n");
            out
        }
    }
}

/// Apply saved binlog files to `s` with the server's own tools, as MHA did: MariaDB's
/// (`mariadb-binlog | mariadb`) or MySQL's (`mysqlbinlog | mysql`), as the files' format
/// description event says who wrote them.
pub(super) async fn apply_binlogs(
    s: &ServerConfig,
    files: &[PathBuf],
    workdir: &Path,
) -> PResult<()> {
    let flavour = files
        .first()
        .map(|f| flavour_of_binlog(f))
        .unwrap_or(Flavour::MariaDb);
    let (decoder, client_name, package) = match flavour {
        Flavour::MariaDb => (
            "mariadb-binlog (mysqlbinlog)",
            "the mariadb (mysql) client",
            "apt-get install mariadb-client",
        ),
        Flavour::MySql => (
            "MySQL's mysqlbinlog",
            "the mysql client",
            "install MySQL's client programs, or set client_bindir to their directory",
        ),
    };
    let binlog_tool = crate::executor::tools::find_binlog_tool(flavour, s).ok_or_else(|| {
        local_error(
            decoder,
            format!("not installed on the manager host: {package}"),
        )
    })?;
    let client = crate::executor::tools::find(crate::executor::tools::client_tools(flavour), s)
        .ok_or_else(|| {
            local_error(
                client_name,
                format!("not installed on the manager host: {package}"),
            )
        })?;
    let defaults = client_defaults(workdir, s)?;
    let decoded = crate::executor::tools::command(&binlog_tool, s)
        .args(files)
        .output()
        .await
        .map_err(|e| local_error(&binlog_tool.display().to_string(), e))?;
    if !decoded.status.success() {
        return Err(local_error(
            &format!("{} failed", binlog_tool.display()),
            String::from_utf8_lossy(&decoded.stderr).trim(),
        ));
    }
    let mut child = crate::executor::tools::command(&client, s)
        .arg(format!(
            "--defaults-extra-file={}",
            defaults.path().display()
        ))
        .arg("--binary-mode")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| local_error(&client.display().to_string(), e))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(&wrapped(flavour, &decoded.stdout))
        .await
        .map_err(|e| local_error(&client.display().to_string(), e))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| local_error(&client.display().to_string(), e))?;
    if !out.status.success() {
        return Err(local_error(
            &format!("applying the saved binlog on {} failed", s.display_name()),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(())
}

/// The saved transactions (`gtids`, `domain-server-seq`) that `after` covers and `before` did
/// not: what applying the tail actually committed.
pub(super) fn landed(gtids: &[String], before: &GtidPos, after: &GtidPos) -> Vec<String> {
    gtids
        .iter()
        .filter(|g| {
            let Ok(one) = after.parse_like(g) else {
                return false;
            };
            one.not_in(after).is_empty() && !one.not_in(before).is_empty()
        })
        .cloned()
        .collect()
}

/// Of the tails saved from binlog servers (in configuration order), the most complete: the
/// one reaching furthest in the master's binlog, then the one with more transactions, then
/// the first. With it, a sentence per other tail holding transactions it lacks: copies of one
/// binlog should never disagree, and what only another holds is not applied.
pub(super) fn most_complete(tails: &[(String, SavedTail)]) -> Option<(usize, Vec<String>)> {
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
pub(super) fn stop_before_promotion(
    config: &Config,
    dead: &ServerConfig,
    from: &BinlogPos,
    failures: &[String],
) -> FailoverError {
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
    FailoverError::BinlogNotSaved(format!(
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

fn local_error(what: &str, error: impl std::fmt::Display) -> FailoverError {
    FailoverError::Local {
        what: what.to_string(),
        error: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who wrote a saved file decides the tools: the captured MariaDB binlog, a MySQL 8.0 one
    /// built from the documented layout, and what is no binlog (MariaDB, as always).
    #[test]
    fn the_tools_follow_the_flavour_of_the_saved_binlog() {
        let d = tempfile::tempdir().unwrap();
        let maria = d.path().join("maria.binlog");
        std::fs::write(
            &maria,
            include_bytes!("../../../tests/fixtures/relay/mysql-bin.000001"),
        )
        .unwrap();
        let mysql = d.path().join("mysql.binlog");
        let mut log = crate::binlog::testing::MySqlLog::new(true);
        log.transaction(false, 1, true);
        std::fs::write(&mysql, &log.bytes).unwrap();
        assert_eq!(flavour_of_binlog(&maria), Flavour::MariaDb);
        assert_eq!(flavour_of_binlog(&mysql), Flavour::MySql);
        assert_eq!(flavour_of_binlog(&d.path().join("none")), Flavour::MariaDb);
        assert_eq!(wrapped(Flavour::MariaDb, b"BINLOG x;"), b"BINLOG x;");
        let sql = String::from_utf8(wrapped(Flavour::MySql, b"BINLOG x;")).unwrap();
        assert_eq!(
            sql,
            "SET @mha_super_read_only = @@global.super_read_only;\nSET GLOBAL super_read_only = 0;\nBINLOG x;\nSET GLOBAL super_read_only = @mha_super_read_only;\n"
        );
    }
}
