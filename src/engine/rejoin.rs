//! May a deposed master come back as a replica of the current master? Only if everything it
//! ever committed is in the master's history: a transaction only it has (committed while it
//! was cut off, acknowledged in a crash window, written after its return) would stay on it
//! alone, and the replication from the master might break on it later, or silently diverge.
//!
//! Two checks, both from the returning server's binlog (the executor, executor/rejoin/,
//! reads it with SHOW BINLOG EVENTS and hands the transactions over):
//! - GTID: each transaction whose GTID (domain, server id, sequence) is beyond the master's
//!   GTID of the same domain and server id (MariaDB: `gtid_binlog_state` and `gtid_slave_pos`
//!   of the master) is its own;
//! - binlog file/position: each transaction it wrote itself (its server id) at or after the
//!   coordinate up to which the failover that deposed it got its binlog (saved, or replicated
//!   by the latest replica: `dead_master_reached` in the failover record) is its own. Only
//!   the failover since its last rejoin counts: what it wrote as a master again later is not
//!   measured by that record.
//!
//! Either check finding a transaction refuses the rejoin. `--flashback` undoes exactly those
//! transactions; `decide` is then asked again with them as `undone`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::topology::{BinlogEvent, BinlogPos, Flavour, MariaGtidPos};

/// One transaction of the returning server's binlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Txn {
    /// `domain-server-sequence`.
    pub gtid: String,
    pub file: String,
    /// Where its GTID event starts, and where its last event ends.
    pub start: u64,
    pub end: u64,
    /// Its first event after the GTID, as SHOW BINLOG EVENTS shows it: the statement itself
    /// (`Annotate_rows: INSERT INTO ...`) when the server logs it, else the table map.
    pub first_event: String,
    /// Its statement events (DDL, statement-based DML): what `--flashback` cannot undo.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statements: Vec<String>,
}

impl Txn {
    pub fn at(&self) -> BinlogPos {
        BinlogPos::new(self.file.clone(), self.start)
    }

    fn gtid_parts(&self) -> Option<(u32, u32, u64)> {
        parse_gtid(&self.gtid)
    }
}

fn parse_gtid(text: &str) -> Option<(u32, u32, u64)> {
    let mut it = text.split('-');
    let (d, s, n) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some((d.parse().ok()?, s.parse().ok()?, n.parse().ok()?))
}

/// The GTID a `Gtid` event starts (`BEGIN GTID 0-1-5`, `GTID 0-1-2` for DDL, `... cid=9`,
/// `XA START ... GTID 0-1-7`).
fn gtid_of_event(info: &str) -> Option<String> {
    let mut words = info.split_whitespace();
    words.find(|w| *w == "GTID")?;
    let g = words.next()?;
    parse_gtid(g).map(|_| g.to_string())
}

/// Events that open or frame a binlog file rather than belong to a transaction.
fn is_file_event(kind: &str) -> bool {
    matches!(
        kind,
        "Format_desc" | "Gtid_list" | "Binlog_checkpoint" | "Rotate" | "Stop" | "Start_encryption"
    )
}

/// Row events and the events that frame them: what `mariadb-binlog --flashback` reverses.
fn is_row_event(kind: &str, info: &str) -> bool {
    kind.starts_with("Write_rows")
        || kind.starts_with("Update_rows")
        || kind.starts_with("Delete_rows")
        || matches!(kind, "Table_map" | "Annotate_rows" | "Xid" | "XA_prepare")
        || (kind == "Query" && matches!(info.trim(), "COMMIT" | "BEGIN" | "ROLLBACK"))
}

const SHOWN: usize = 200;

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

/// Group events (in binlog order, any number of files) into transactions: a `Gtid` event and
/// what follows it up to the next `Gtid` event or the end of its file.
pub fn transactions(events: &[BinlogEvent]) -> Vec<Txn> {
    let mut out: Vec<Txn> = Vec::new();
    let mut open = false;
    for e in events {
        if e.kind == "Gtid" {
            open = false;
            if let Some(gtid) = gtid_of_event(&e.info) {
                out.push(Txn {
                    gtid,
                    file: e.file.clone(),
                    start: e.pos,
                    end: e.end,
                    first_event: String::new(),
                    statements: vec![],
                });
                open = true;
            }
            continue;
        }
        if is_file_event(&e.kind) {
            open = false;
            continue;
        }
        let Some(t) = out.last_mut().filter(|t| open && t.file == e.file) else {
            continue;
        };
        t.end = e.end;
        if t.first_event.is_empty() {
            t.first_event = shorten(&format!("{}: {}", e.kind, e.info));
        }
        if !is_row_event(&e.kind, &e.info) {
            t.statements
                .push(shorten(&format!("{}: {}", e.kind, e.info)));
        }
    }
    out
}

/// A binlog file and the binlog state its `Gtid_list` event gives: every GTID (last per
/// domain and server id) written before the file began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStart {
    pub file: String,
    pub state: MariaGtidPos,
}

/// The `Gtid_list` event's text (`[0-1-5,5-1-1]`) as a position.
pub fn gtid_list(info: &str) -> Option<MariaGtidPos> {
    let inner = info.trim().strip_prefix('[')?.split(']').next()?;
    MariaGtidPos::parse(inner).ok()
}

/// Where to start reading the returning server's binlog (`files` oldest first) to find
/// every transaction the master may lack: those beyond the master's GTID of their domain and
/// server id (`ours` vs `master`), and those at or after `reached`. The GTID part starts at
/// the newest file that began before the first such transaction; a file begins before it
/// when its Gtid_list is not beyond the master for any of those (domain, server id). None:
/// nothing to read.
pub fn scan_from(
    files: &[FileStart],
    ours: &MariaGtidPos,
    master: &MariaGtidPos,
    reached: Option<&BinlogPos>,
) -> Option<BinlogPos> {
    let first = files.first()?;
    let beyond = ours.not_in(master);
    let by_gtid = (!beyond.is_empty()).then(|| {
        let begins_before = |f: &FileStart| {
            beyond.0.keys().all(|k| {
                let had = f.state.0.get(k).copied().unwrap_or(0);
                had <= master.0.get(k).copied().unwrap_or(0)
            })
        };
        let f = files
            .iter()
            .rev()
            .find(|f| begins_before(f))
            .unwrap_or(first);
        BinlogPos::new(f.file.clone(), 0)
    });
    let by_position = reached.and_then(|r| {
        let last = files.last()?;
        if *r > BinlogPos::new(last.file.clone(), u64::MAX) {
            return None;
        }
        // A file older than the oldest one left: read all there is.
        Some(if *r < BinlogPos::new(first.file.clone(), 0) {
            BinlogPos::new(first.file.clone(), 0)
        } else {
            r.clone()
        })
    });
    match (by_gtid, by_position) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What the executor found out about the returning server and the current master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// `host(ip:port)`.
    pub server: String,
    /// Its `server_id`: the transactions it wrote itself carry it in their GTIDs.
    pub server_id: u32,
    pub flavour: Flavour,
    /// The current master, or why there is none to rejoin.
    pub master: Result<String, String>,
    /// It already replicates, both threads running, from the current master.
    pub replicates_from_master: bool,
    /// Its binlog state (MariaDB `gtid_binlog_state`: the last GTID per domain and server id).
    pub gtids: MariaGtidPos,
    /// Its `gtid_slave_pos`.
    pub slave_pos: MariaGtidPos,
    /// The master's `gtid_binlog_state` and `gtid_slave_pos` together.
    pub master_gtids: MariaGtidPos,
    /// How far the new master got its binlog in the failover that deposed it (from the
    /// failover record); None when no record says, or when it rejoined since.
    pub reached: Option<BinlogPos>,
    /// Where its binlog was read from (None: not read, nothing to look for).
    pub scanned_from: Option<BinlogPos>,
    /// Every transaction of its binlog from `scanned_from` on.
    pub txns: Vec<Txn>,
    /// `binlog_row_image` is FULL: row events hold whole rows, as `--flashback` needs.
    pub full_row_image: bool,
}

/// Which check found a transaction the master lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// Its GTID is beyond the master's of the same domain and server id.
    Gtid,
    /// It comes after what the failover got of its binlog.
    Position,
    Both,
}

impl fmt::Display for FoundBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FoundBy::Gtid => "GTID beyond the master's",
            FoundBy::Position => "after what the failover got of its binlog",
            FoundBy::Both => "GTID beyond the master's, after what the failover got",
        })
    }
}

/// A transaction only the returning server has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlyHere {
    pub gtid: String,
    /// Where it is in its binlog; None when its binlog no longer holds it (purged).
    pub txn: Option<Txn>,
    pub found_by: FoundBy,
}

impl fmt::Display for OnlyHere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.txn {
            Some(t) => write!(
                f,
                "{} at {}:{}-{} ({}), first event {}",
                self.gtid, t.file, t.start, t.end, self.found_by, t.first_event
            ),
            None => write!(
                f,
                "{} ({}), not in its binlog any more (purged?)",
                self.gtid, self.found_by
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// Rejoining is done with MariaDB's GTIDs; MySQL is not handled yet.
    NotMariaDb,
    /// No current master to replicate from.
    NoMaster { why: String },
    /// It has transactions the master lacks.
    OnlyHere { txns: Vec<OnlyHere> },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotMariaDb => f.write_str("only MariaDB servers can be rejoined for now"),
            Refusal::NoMaster { why } => write!(f, "no current master to replicate from: {why}"),
            Refusal::OnlyHere { txns } => write!(
                f,
                "it has {} transaction(s) that the master does not have",
                txns.len()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Its history is in the master's: set `gtid_slave_pos` to `start` and replicate with
    /// MASTER_USE_GTID=slave_pos.
    Contained {
        start: MariaGtidPos,
    },
    /// It already replicates from the master; its history is contained.
    AlreadyReplica,
    Refused(Refusal),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Contained { start } => write!(f, "contained (it starts from {start})"),
            Verdict::AlreadyReplica => f.write_str("already a replica of the master"),
            Verdict::Refused(r) => write!(f, "refused: {r}"),
        }
    }
}

/// Is the returning server's history contained in the master's? `undone`: GTIDs of its own
/// transactions that `--flashback` has undone.
pub fn decide(facts: &Facts, undone: &[String]) -> Verdict {
    if facts.flavour != Flavour::MariaDb {
        return Verdict::Refused(Refusal::NotMariaDb);
    }
    if let Err(why) = &facts.master {
        return Verdict::Refused(Refusal::NoMaster { why: why.clone() });
    }
    let only = only_here(facts);
    let left: Vec<OnlyHere> = only
        .iter()
        .filter(|o| !undone.contains(&o.gtid))
        .cloned()
        .collect();
    if !left.is_empty() {
        return Verdict::Refused(Refusal::OnlyHere { txns: left });
    }
    if facts.replicates_from_master && only.is_empty() {
        return Verdict::AlreadyReplica;
    }
    Verdict::Contained {
        start: start_position(facts, &only),
    }
}

/// The master's sequence number for (domain, server id); 0 when it has none.
fn master_seq(facts: &Facts, d: u32, s: u32) -> u64 {
    facts.master_gtids.0.get(&(d, s)).copied().unwrap_or(0)
}

/// Every transaction only it has, by either check, in binlog order; then the GTIDs beyond
/// the master that its binlog no longer holds.
fn only_here(facts: &Facts) -> Vec<OnlyHere> {
    let mut out = Vec::new();
    for t in &facts.txns {
        let by_gtid = t
            .gtid_parts()
            .is_some_and(|(d, s, n)| n > master_seq(facts, d, s));
        // What it wrote itself after what the failover got; what it replicated from others
        // (someone attached it by hand) is theirs.
        let own = t.gtid_parts().is_some_and(|(_, s, _)| s == facts.server_id);
        let by_position = own && facts.reached.as_ref().is_some_and(|r| t.at() >= *r);
        let found_by = match (by_gtid, by_position) {
            (true, true) => FoundBy::Both,
            (true, false) => FoundBy::Gtid,
            (false, true) => FoundBy::Position,
            (false, false) => continue,
        };
        out.push(OnlyHere {
            gtid: t.gtid.clone(),
            txn: Some(t.clone()),
            found_by,
        });
    }
    for ((d, s), n) in &facts.gtids.not_in(&facts.master_gtids).0 {
        let gtid = format!("{d}-{s}-{n}");
        if !facts.txns.iter().any(|t| t.gtid == gtid) {
            out.push(OnlyHere {
                gtid,
                txn: None,
                found_by: FoundBy::Gtid,
            });
        }
    }
    out
}

/// Where replication from the master starts: per domain the last GTID it has, of its binlog
/// or of its replica position. A (domain, server id) whose transactions beyond the master were
/// undone counts as the master's GTID of it (what it had before them).
fn start_position(facts: &Facts, undone: &[OnlyHere]) -> MariaGtidPos {
    let undone_keys: Vec<(u32, u32)> = undone
        .iter()
        .filter_map(|o| parse_gtid(&o.gtid).map(|(d, s, _)| (d, s)))
        .collect();
    let mut own: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for (&(d, s), &n) in &facts.gtids.0 {
        let n = if undone_keys.contains(&(d, s)) {
            n.min(master_seq(facts, d, s))
        } else {
            n
        };
        if n > 0 {
            own.insert((d, s), n);
        }
    }
    MariaGtidPos(own).union(&facts.slave_pos).last_per_domain()
}

/// Why `--flashback` cannot undo these transactions (empty: it can).
pub fn flashback_blockers(txns: &[OnlyHere], full_row_image: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !full_row_image {
        out.push(
            "binlog_row_image is not FULL: row events may not hold whole rows to restore".into(),
        );
    }
    for o in txns {
        match &o.txn {
            None => out.push(format!("{}: not in its binlog any more", o.gtid)),
            Some(t) if !t.statements.is_empty() => out.push(format!(
                "{}: holds statements, not only row events: {}",
                o.gtid,
                t.statements.join("; ")
            )),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(file: &str, pos: u64, kind: &str, end: u64, info: &str) -> BinlogEvent {
        BinlogEvent {
            file: file.into(),
            pos,
            kind: kind.into(),
            end,
            info: info.into(),
        }
    }

    fn p(text: &str) -> MariaGtidPos {
        MariaGtidPos::parse(text).unwrap()
    }

    /// A file as MariaDB 10.11 writes it: header events, then transactions.
    fn binlog() -> Vec<BinlogEvent> {
        let f = "mysql-bin.000001";
        let g = "mysql-bin.000002";
        vec![
            ev(f, 4, "Format_desc", 256, "Server ver: 10.11"),
            ev(f, 256, "Gtid_list", 285, "[]"),
            ev(f, 285, "Binlog_checkpoint", 328, "mysql-bin.000001"),
            ev(f, 328, "Gtid", 370, "GTID 0-1-1"),
            ev(f, 370, "Query", 451, "create database t"),
            ev(f, 451, "Gtid", 493, "BEGIN GTID 0-1-2 cid=17"),
            ev(
                f,
                493,
                "Annotate_rows",
                553,
                "insert into t.a values(1,'x')",
            ),
            ev(f, 553, "Table_map", 597, "table_id: 22 (t.a)"),
            ev(
                f,
                597,
                "Write_rows_v1",
                644,
                "table_id: 22 flags: STMT_END_F",
            ),
            ev(f, 644, "Xid", 675, "COMMIT /* xid=47 */"),
            ev(f, 675, "Rotate", 719, "mysql-bin.000002;pos=4"),
            ev(g, 4, "Format_desc", 256, "Server ver: 10.11"),
            ev(g, 256, "Gtid_list", 285, "[0-1-2]"),
            ev(g, 285, "Binlog_checkpoint", 328, "mysql-bin.000001"),
            ev(g, 328, "Gtid", 370, "BEGIN GTID 0-1-3"),
            ev(g, 370, "Table_map", 414, "table_id: 22 (t.a)"),
            ev(
                g,
                414,
                "Delete_rows_v1",
                454,
                "table_id: 22 flags: STMT_END_F",
            ),
            ev(g, 454, "Xid", 485, "COMMIT /* xid=52 */"),
        ]
    }

    #[test]
    fn events_group_into_transactions() {
        let t = transactions(&binlog());
        let got: Vec<(&str, &str, u64, u64, &str, usize)> = t
            .iter()
            .map(|t| {
                (
                    t.gtid.as_str(),
                    t.file.as_str(),
                    t.start,
                    t.end,
                    t.first_event.as_str(),
                    t.statements.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "0-1-1",
                    "mysql-bin.000001",
                    328,
                    451,
                    "Query: create database t",
                    1
                ),
                (
                    "0-1-2",
                    "mysql-bin.000001",
                    451,
                    675,
                    "Annotate_rows: insert into t.a values(1,'x')",
                    0
                ),
                (
                    "0-1-3",
                    "mysql-bin.000002",
                    328,
                    485,
                    "Table_map: table_id: 22 (t.a)",
                    0
                ),
            ]
        );
        // A transaction cut by the end of a page is kept with what was read.
        let cut = transactions(&binlog()[..8]);
        assert_eq!((cut[1].gtid.as_str(), cut[1].end), ("0-1-2", 597));
        // Statement-based DML is a statement; BEGIN/COMMIT queries are not.
        let sbr = transactions(&[
            ev("f.1", 4, "Gtid", 40, "BEGIN GTID 0-1-9"),
            ev("f.1", 40, "Query", 90, "insert into t values (1)"),
            ev("f.1", 90, "Query", 120, "COMMIT"),
        ]);
        assert_eq!(
            sbr[0].statements,
            vec!["Query: insert into t values (1)".to_string()]
        );
        assert_eq!(
            gtid_of_event("XA START X'31',X'',1 GTID 0-1-7").as_deref(),
            Some("0-1-7")
        );
        assert_eq!(gtid_of_event("BEGIN GTID garbage"), None);
        let long = "x".repeat(500);
        assert_eq!(shorten(&long).len(), SHOWN + 3);
    }

    #[test]
    fn gtid_lists() {
        assert_eq!(gtid_list("[0-1-5,5-1-1]"), Some(p("0-1-5,5-1-1")));
        assert_eq!(gtid_list("[]"), Some(p("")));
        assert_eq!(gtid_list("0-1-5"), None);
    }

    #[test]
    fn where_to_read_from() {
        let files = vec![
            FileStart {
                file: "b.000003".into(),
                state: p("0-1-100"),
            },
            FileStart {
                file: "b.000004".into(),
                state: p("0-1-200"),
            },
            FileStart {
                file: "b.000005".into(),
                state: p("0-1-300,0-2-7"),
            },
        ];
        let at = |f: &str, n: u64| Some(BinlogPos::new(f, n));
        let r = |f: &str, n: u64| BinlogPos::new(f, n);
        /// (case, its GTIDs, the master's, the record's coordinate, where to read from)
        type Case = (
            &'static str,
            MariaGtidPos,
            MariaGtidPos,
            Option<BinlogPos>,
            Option<BinlogPos>,
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("contained, no record: nothing to read", p("0-1-300"), p("0-1-300"), None, None),
            ("beyond from 250: the file that began at 200", p("0-1-310"), p("0-1-250"), None, at("b.000004", 0)),
            ("beyond from exactly a file start", p("0-1-310"), p("0-1-300"), None, at("b.000005", 0)),
            ("beyond before the oldest file: all of it", p("0-1-310"), p("0-1-50"), None, at("b.000003", 0)),
            ("a server id the master never saw", p("0-1-300,0-2-9"), p("0-1-300"), None, at("b.000004", 0)),
            ("the record alone", p("0-1-300"), p("0-1-300"), Some(r("b.000004", 880)), at("b.000004", 880)),
            ("the earlier of the two", p("0-1-310"), p("0-1-300"), Some(r("b.000004", 880)), at("b.000004", 880)),
            ("a record older than the binlog", p("0-1-300"), p("0-1-300"), Some(r("b.000001", 880)), at("b.000003", 0)),
            ("a record newer than the binlog", p("0-1-300"), p("0-1-300"), Some(r("b.000009", 4)), None),
        ];
        for (name, ours, master, reached, want) in cases {
            assert_eq!(
                scan_from(&files, &ours, &master, reached.as_ref()),
                want,
                "{name}"
            );
        }
        assert_eq!(scan_from(&[], &p("0-1-5"), &p(""), None), None);
    }

    fn txn(gtid: &str, file: &str, start: u64) -> Txn {
        Txn {
            gtid: gtid.into(),
            file: file.into(),
            start,
            end: start + 100,
            first_event: "Annotate_rows: insert".into(),
            statements: vec![],
        }
    }

    fn facts(ours: &str, master: &str, reached: Option<(&str, u64)>, txns: Vec<Txn>) -> Facts {
        Facts {
            server: "db1(10.0.0.1:3306)".into(),
            server_id: 1,
            flavour: Flavour::MariaDb,
            master: Ok("db2(10.0.0.2:3306)".into()),
            replicates_from_master: false,
            gtids: p(ours),
            slave_pos: p(""),
            master_gtids: p(master),
            reached: reached.map(|(f, n)| BinlogPos::new(f, n)),
            scanned_from: None,
            txns,
            full_row_image: true,
        }
    }

    fn only(gtid: &str, found_by: FoundBy, located: bool) -> (String, FoundBy, bool) {
        (gtid.to_string(), found_by, located)
    }

    #[test]
    fn containment() {
        use FoundBy::*;
        let after = |v: Vec<Txn>| v;
        /// Contained from this start position, or refused for these (GTID, check, located).
        type Want = Result<&'static str, Vec<(String, FoundBy, bool)>>;
        #[rustfmt::skip]
        let cases: Vec<(&str, Facts, Want)> = vec![
            ("a clean stop: all it has, the master has",
             facts("0-1-500", "0-1-500,0-2-900", Some(("b.000002", 900)), vec![]),
             Ok("0-1-500")),
            ("behind the master (the master replicated more since)",
             facts("0-1-400", "0-1-500,0-2-900", Some(("b.000002", 900)), vec![]),
             Ok("0-1-400")),
            ("restarted: a new binlog file without transactions after the record",
             facts("0-1-500", "0-1-500,0-2-900", Some(("b.000002", 900)), after(vec![txn("0-1-500", "b.000002", 700)])),
             Ok("0-1-500")),
            ("committed while cut off: both checks find it",
             facts("0-1-501", "0-1-500,0-2-900", Some(("b.000002", 900)), vec![txn("0-1-500", "b.000002", 700), txn("0-1-501", "b.000002", 900)]),
             Err(vec![only("0-1-501", Both, true)])),
            ("no failover record: the GTID check alone",
             facts("0-1-501", "0-1-500,0-2-900", None, vec![txn("0-1-501", "b.000002", 900)]),
             Err(vec![only("0-1-501", Gtid, true)])),
            ("after the record, although the master has the GTID: refused all the same",
             facts("0-1-500", "0-1-500", Some(("b.000002", 900)), vec![txn("0-1-500", "b.000003", 328)]),
             Err(vec![only("0-1-500", Position, true)])),
            ("replicated from another server after the record (attached by hand): not its own",
             facts("0-1-500", "0-1-500,0-2-905", Some(("b.000002", 900)), vec![txn("0-2-905", "b.000003", 328)]),
             Ok("0-1-500")),
            ("beyond the master but no longer in its binlog",
             facts("0-1-501", "0-1-500", None, vec![]),
             Err(vec![only("0-1-501", Gtid, false)])),
            ("another domain written while cut off",
             facts("0-1-500,7-1-3", "0-1-500,0-2-900", None, vec![txn("7-1-2", "b.000003", 400), txn("7-1-3", "b.000003", 600)]),
             Err(vec![only("7-1-2", Gtid, true), only("7-1-3", Gtid, true)])),
            ("sequence numbers are compared per server id, not per domain",
             facts("0-1-501", "0-2-900,0-1-500", None, vec![txn("0-1-501", "b.000003", 400)]),
             Err(vec![only("0-1-501", Gtid, true)])),
        ];
        for (name, f, want) in cases {
            match (decide(&f, &[]), want) {
                (Verdict::Contained { start }, Ok(s)) => assert_eq!(start.to_string(), s, "{name}"),
                (Verdict::Refused(Refusal::OnlyHere { txns }), Err(w)) => {
                    let got: Vec<(String, FoundBy, bool)> = txns
                        .iter()
                        .map(|o| (o.gtid.clone(), o.found_by, o.txn.is_some()))
                        .collect();
                    assert_eq!(got, w, "{name}");
                }
                (got, want) => panic!("{name}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn other_verdicts() {
        let mut f = facts("0-1-500", "0-1-500", None, vec![]);
        f.replicates_from_master = true;
        assert_eq!(decide(&f, &[]), Verdict::AlreadyReplica);
        f.master = Err("no server answers as master".into());
        assert_eq!(
            decide(&f, &[]),
            Verdict::Refused(Refusal::NoMaster {
                why: "no server answers as master".into()
            })
        );
        f.flavour = Flavour::MySql;
        assert_eq!(decide(&f, &[]), Verdict::Refused(Refusal::NotMariaDb));
        // A replica of the master that has transactions of its own is not "already" fine.
        let mut f = facts("0-1-501", "0-1-500", None, vec![txn("0-1-501", "b.1", 4)]);
        f.replicates_from_master = true;
        assert!(matches!(decide(&f, &[]), Verdict::Refused(_)));
    }

    #[test]
    fn undone_transactions_no_longer_count() {
        let mut f = facts(
            "0-1-502,0-3-40",
            "0-1-500,0-2-900,0-3-40",
            Some(("b.000002", 900)),
            vec![
                txn("0-1-501", "b.000002", 900),
                txn("0-1-502", "b.000002", 1000),
            ],
        );
        f.slave_pos = p("0-3-40");
        let undone = vec!["0-1-501".to_string()];
        // One of two undone: still refused, for the other.
        match decide(&f, &undone) {
            Verdict::Refused(Refusal::OnlyHere { txns }) => {
                assert_eq!(txns.len(), 1);
                assert_eq!(txns[0].gtid, "0-1-502");
            }
            v => panic!("{v:?}"),
        }
        // Both undone: it starts where it was before them, the master's GTID of its server id.
        let undone = vec!["0-1-501".to_string(), "0-1-502".to_string()];
        assert_eq!(
            decide(&f, &undone),
            Verdict::Contained {
                start: p("0-1-500")
            }
        );
        // An older replica position in the same domain does not win over its own binlog.
        f.slave_pos = p("0-3-40");
        let pos = start_position(&f, &[]);
        assert_eq!(pos.to_string(), "0-1-502");
    }

    #[test]
    fn what_flashback_cannot_undo() {
        let rows = OnlyHere {
            gtid: "0-1-501".into(),
            txn: Some(txn("0-1-501", "b.1", 4)),
            found_by: FoundBy::Both,
        };
        assert!(flashback_blockers(std::slice::from_ref(&rows), true).is_empty());
        assert_eq!(
            flashback_blockers(std::slice::from_ref(&rows), false).len(),
            1
        );
        let mut ddl = rows.clone();
        ddl.txn.as_mut().unwrap().statements = vec!["Query: drop table t".into()];
        let purged = OnlyHere {
            txn: None,
            ..rows.clone()
        };
        let why = flashback_blockers(&[ddl, purged], true);
        assert_eq!(why.len(), 2);
        assert!(why[0].contains("drop table t"), "{why:?}");
        assert!(why[1].contains("not in its binlog"), "{why:?}");
    }

    #[test]
    fn refusals_read_as_dba_words() {
        let o = OnlyHere {
            gtid: "0-1-501".into(),
            txn: Some(txn("0-1-501", "mysql-bin.000002", 900)),
            found_by: FoundBy::Both,
        };
        assert_eq!(
            o.to_string(),
            "0-1-501 at mysql-bin.000002:900-1000 (GTID beyond the master's, after what the failover got), first event Annotate_rows: insert"
        );
        assert_eq!(
            Refusal::OnlyHere { txns: vec![o] }.to_string(),
            "it has 1 transaction(s) that the master does not have"
        );
    }
}
