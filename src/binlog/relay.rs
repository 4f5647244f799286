//! Relay logs as MHA's `apply_diff_relay_logs` read them: which master coordinate each event
//! of a replica's relay logs stands for, and the master's events between two master
//! coordinates cut out of them, across relay log files and master binlog rotations.
//!
//! A relay log holds the master's events byte for byte, header included: an event's
//! `end_log_pos` is the master's binlog offset right after it. The master's binlog file is
//! not in the events: it comes from the master's Rotate events (a real one at the end of each
//! master file, an artificial one with `end_log_pos` 0 each time the IO thread connects). A
//! relay log rotated on the replica's side (`FLUSH RELAY LOGS`, `max_relay_log_size`) starts
//! without one, so the master file carries over from the previous relay log. Besides the
//! master's events, a relay log has events of its own (its format description event, the
//! Rotate to the next relay log: the replica's server_id, relay log offsets), a copy of the
//! master's format description event after each rotation (`end_log_pos` 0 or the master's
//! 256), and artificial events (`end_log_pos` 0). Only the master's own events carry master
//! coordinates.

use crate::topology::BinlogPos;

use super::{
    BinlogError, EventHeader, FORMAT_DESCRIPTION_EVENT, HEADER_LEN, MAGIC,
    PREVIOUS_GTIDS_LOG_EVENT, ROTATE_EVENT, crc32, events, format_description_end, gtids,
};

/// Events that describe the binlog rather than change data: never part of a diff.
const STOP_EVENT: u8 = 3;
const HEARTBEAT_EVENT: u8 = 27;
const BINLOG_CHECKPOINT_EVENT: u8 = 161;
const GTID_LIST_EVENT: u8 = 163;
const START_ENCRYPTION_EVENT: u8 = 164;
/// LOG_EVENT_ARTIFICIAL_F: made up by the master's dump thread, not in its binlog.
const ARTIFICIAL: u16 = 0x20;

/// One relay log file: its name (for messages) and its bytes, from offset 0.
#[derive(Debug, Clone, Copy)]
pub struct RelayFile<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("{file}: not a readable relay log: {why}")]
    NotRelayLog { file: String, why: BinlogError },
    /// Master events before any master Rotate: an older relay log says which master file.
    #[error("{file}: the master's binlog file of its first events is named in an older relay log")]
    MasterFileUnknown { file: String },
    /// The relay logs start after `from` (purged, or the replica started replicating later).
    #[error(
        "the relay logs do not reach back to {from}: the first master event after it ends at {first}"
    )]
    NoStart { from: BinlogPos, first: BinlogPos },
    /// The relay logs end before `to`.
    #[error("the relay logs end at {last} in the master's binlog, before {to}")]
    NoEnd { to: BinlogPos, last: String },
}

/// The master's events between two of its coordinates, cut out of relay logs: a readable
/// binlog (the magic number, the master's format description event, the events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayDiff {
    pub bytes: Vec<u8>,
    /// How many events were cut.
    pub events: usize,
    /// The GTIDs of the whole transactions in it, in order.
    pub gtids: Vec<String>,
    /// Where the cut events lie: (relay log name, first offset, end offset), one piece per
    /// relay log that contributed.
    pub pieces: Vec<(String, usize, usize)>,
}

impl RelayDiff {
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
}

/// An event cut for the diff, before the bytes are joined.
struct Cut {
    file: usize,
    at: usize,
    len: usize,
    /// The master coordinate right after it.
    coord: BinlogPos,
}

/// The master's events after `from` up to and including `to` (master binlog coordinates, as
/// `Exec_Master_Log_Pos` gives them: at the end of an event group), read from `files`, the
/// relay logs of one replica in order. `from` must be reached exactly, by an event that ends
/// or starts there or a Rotate that lands there, or the relay logs do not cover it; `to` must
/// be the end of an event in them. Nothing to cut (`from` ≥ `to`) gives an empty diff.
pub fn relay_diff(
    files: &[RelayFile<'_>],
    from: &BinlogPos,
    to: &BinlogPos,
) -> Result<RelayDiff, RelayError> {
    relay_diff_at(files, None, from, to)
}

/// [`relay_diff`] of relay logs whose first master event starts at master coordinate
/// `start` (a relay log read from the middle, see [`tail_from`]): no Rotate need name the
/// master's file.
pub fn relay_diff_at(
    files: &[RelayFile<'_>],
    start: Option<&BinlogPos>,
    from: &BinlogPos,
    to: &BinlogPos,
) -> Result<RelayDiff, RelayError> {
    let mut walk = Walk::new(from, to);
    if let Some(s) = start {
        walk.move_to(s.clone());
    }
    for (k, f) in files.iter().enumerate() {
        walk.file(k, f)?;
    }
    walk.finish(files)
}

/// The walk over the relay logs, event by event.
struct Walk<'a> {
    from: &'a BinlogPos,
    to: &'a BinlogPos,
    /// The master coordinate after the last master event seen.
    cur: Option<BinlogPos>,
    /// `from` was met: events after it may be cut.
    reached: bool,
    cuts: Vec<Cut>,
    /// The master's format description event last seen before the first cut event.
    header: Option<Vec<u8>>,
    /// The furthest master coordinate seen (for messages).
    last: Option<BinlogPos>,
}

impl<'a> Walk<'a> {
    fn new(from: &'a BinlogPos, to: &'a BinlogPos) -> Self {
        Walk {
            from,
            to,
            cur: None,
            reached: false,
            cuts: Vec::new(),
            header: None,
            last: None,
        }
    }

    fn move_to(&mut self, at: BinlogPos) {
        if at == *self.from {
            self.reached = true;
        } else if at < *self.from {
            // Back before `from` (the IO thread reconnected earlier): met again later.
            self.reached = false;
        }
        if self.last.as_ref().is_none_or(|l| at > *l) {
            self.last = Some(at.clone());
        }
        self.cur = Some(at);
    }

    fn file(&mut self, k: usize, f: &RelayFile<'_>) -> Result<(), RelayError> {
        let bad = |why| RelayError::NotRelayLog {
            file: f.name.to_string(),
            why,
        };
        let fde_end = format_description_end(f.bytes).map_err(bad)?;
        let own = super::parse_header(&f.bytes[4..])
            .map(|h| h.server_id)
            .ok_or(bad(BinlogError::Truncated("no first event")))?;
        let body = &f.bytes[fde_end..];
        for (at, h) in events(body) {
            let at = fde_end + at;
            let ev = &f.bytes[at..at + h.length as usize];
            if h.server_id == own {
                continue; // the relay log's own: its rotate to the next relay log
            }
            self.event(k, f, at, h, ev)?;
        }
        Ok(())
    }

    fn event(
        &mut self,
        k: usize,
        f: &RelayFile<'_>,
        at: usize,
        h: EventHeader,
        ev: &[u8],
    ) -> Result<(), RelayError> {
        let artificial = h.next_pos == 0 || h.flags & ARTIFICIAL != 0;
        if h.type_code == FORMAT_DESCRIPTION_EVENT {
            if self.cuts.is_empty() {
                self.header = Some(ev.to_vec());
            }
            return Ok(());
        }
        if h.type_code == ROTATE_EVENT {
            let Some((file, pos)) = rotate_target(ev) else {
                return Ok(());
            };
            if !artificial && let Some(cur) = &self.cur {
                // The master's own rotate ends its file; its end is a coordinate too.
                let end = BinlogPos::new(cur.file.clone(), u64::from(h.next_pos));
                self.move_to(end);
            }
            let target = BinlogPos::new(file, pos);
            if artificial {
                // The IO thread (re)connected at `target`: what was received after it
                // before is received again (a partial transaction, resent whole).
                self.cuts.retain(|c| c.coord <= target);
            }
            self.move_to(target);
            return Ok(());
        }
        if artificial {
            return Ok(());
        }
        let Some(cur) = &self.cur else {
            return Err(RelayError::MasterFileUnknown {
                file: f.name.to_string(),
            });
        };
        let end = u64::from(h.next_pos);
        let start = end.saturating_sub(u64::from(h.length));
        let file = cur.file.clone();
        let coord = BinlogPos::new(file.clone(), end);
        if !self.reached && file == self.from.file && start == self.from.pos {
            self.reached = true;
        }
        let wanted = coord > *self.from && coord <= *self.to;
        if wanted && !self.reached {
            return Err(RelayError::NoStart {
                from: self.from.clone(),
                first: coord,
            });
        }
        if wanted
            && !matches!(
                h.type_code,
                STOP_EVENT
                    | HEARTBEAT_EVENT
                    | BINLOG_CHECKPOINT_EVENT
                    | GTID_LIST_EVENT
                    | START_ENCRYPTION_EVENT
                    | PREVIOUS_GTIDS_LOG_EVENT
            )
        {
            self.cuts.push(Cut {
                file: k,
                at,
                len: ev.len(),
                coord: coord.clone(),
            });
        }
        self.move_to(coord);
        Ok(())
    }

    fn finish(self, files: &[RelayFile<'_>]) -> Result<RelayDiff, RelayError> {
        let nothing = RelayDiff {
            bytes: Vec::new(),
            events: 0,
            gtids: Vec::new(),
            pieces: Vec::new(),
        };
        if self.from >= self.to {
            return Ok(nothing);
        }
        // `to` must have been met: the last coordinate seen at or past it.
        if self.last.as_ref().is_none_or(|l| l < self.to) {
            return Err(RelayError::NoEnd {
                to: self.to.clone(),
                last: self
                    .last
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "nothing (no master event)".into()),
            });
        }
        if !self.reached && self.cuts.is_empty() {
            return Err(RelayError::NoStart {
                from: self.from.clone(),
                first: self.last.unwrap_or_else(|| self.to.clone()),
            });
        }
        let header = match self.header {
            Some(h) => h,
            // No copy of the master's: the relay log's own describes the same format.
            None => {
                let first = files.first().map(|f| f.bytes).unwrap_or_default();
                let end = format_description_end(first).unwrap_or(4);
                first[4..end].to_vec()
            }
        };
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&header);
        let mut pieces: Vec<(String, usize, usize)> = Vec::new();
        for c in &self.cuts {
            bytes.extend_from_slice(&files[c.file].bytes[c.at..c.at + c.len]);
            match pieces.last_mut() {
                Some((name, _, end)) if name == files[c.file].name && *end == c.at => {
                    *end = c.at + c.len
                }
                _ => pieces.push((files[c.file].name.to_string(), c.at, c.at + c.len)),
            }
        }
        let events_start = 4 + header.len();
        let gtids = gtids(&bytes[events_start..]);
        Ok(RelayDiff {
            events: self.cuts.len(),
            gtids,
            pieces,
            bytes,
        })
    }
}

/// MHA's fast path: the relay log the latest replica's SQL thread stands in, read from the
/// middle. Its SQL thread executed up to `relay_pos` in it, which is master coordinate
/// `exec_pos` of the same master file as `from_pos`; when nothing but the master's events lies
/// between, the master's events after `from_pos` start `exec_pos - from_pos` bytes before
/// `relay_pos`: that offset (None when it cannot be). Whether the master's event that starts
/// at `from_pos` is really there, [`tail_from`] checks: a relay log rotation or a reconnect in
/// between puts something else there, and the relay logs are then read whole.
pub fn tail_offset(relay_pos: u64, exec_pos: u64, from_pos: u64) -> Option<u64> {
    relay_pos.checked_sub(exec_pos.checked_sub(from_pos)?)
}

/// The relay log read from the middle as a relay log [`relay_diff_at`] reads: `head` is the
/// start of the file (its format description event, and the master's after it, within the
/// first bytes), `tail` the bytes from the offset [`tail_offset`] gave. None unless `tail`
/// starts with a master event that starts at master offset `from_pos`.
pub fn tail_from(head: &[u8], tail: &[u8], from_pos: u64) -> Option<Vec<u8>> {
    let fde_end = format_description_end(head).ok()?;
    let own = super::parse_header(&head[4..])?.server_id;
    let first = super::parse_header(tail)?;
    let start = u64::from(first.next_pos).checked_sub(u64::from(first.length))?;
    if first.server_id == own
        || first.next_pos == 0
        || start != from_pos
        || (first.length as usize) < HEADER_LEN
        || first.length as usize > tail.len()
    {
        return None;
    }
    let mut out = head[..fde_end].to_vec();
    // The master's format description event, when the head holds it: it describes the
    // master's events (their checksums) better than the relay log's own.
    if let Some((at, h)) = events(&head[fde_end..])
        .into_iter()
        .find(|(_, h)| h.type_code == FORMAT_DESCRIPTION_EVENT && h.server_id != own)
    {
        let at = fde_end + at;
        out.extend_from_slice(&head[at..at + h.length as usize]);
    }
    out.extend_from_slice(tail);
    Some(out)
}

/// A Rotate event's target: the binlog file it names and the position there. The event may
/// end with a CRC32 checksum (whether it does is told by the checksum itself).
fn rotate_target(ev: &[u8]) -> Option<(String, u64)> {
    let body = ev.get(HEADER_LEN..)?;
    let pos = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
    let mut name = &body[8..];
    if ev.len() >= HEADER_LEN + 12 {
        let (data, sum) = ev.split_at(ev.len() - 4);
        if crc32(data).to_le_bytes() == sum {
            name = &name[..name.len() - 4];
        }
    }
    let name = std::str::from_utf8(name).ok()?;
    (!name.is_empty()).then(|| (name.to_string(), pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from a `mha sandbox up --file-pos` (MariaDB 10.11): server2's relay logs and
    /// server1's (the master's) binlogs. server3 stopped its IO thread after 0-1-3
    /// (mysql-bin.000001:841); then the master wrote 0-1-4..0-1-7, rotated its binlog (FLUSH
    /// BINARY LOGS: relay-bin.000003 holds its Rotate, relay-bin.000004 starts the new file),
    /// wrote 0-1-8 and 0-1-9, server2 rotated its relay log (FLUSH RELAY LOGS:
    /// relay-bin.000005 starts with no master Rotate), and the master wrote 0-1-10..0-1-13 (a
    /// DELETE, a CREATE TABLE). server2 executed up to mysql-bin.000002:1578.
    const RELAY: [(&str, &[u8]); 5] = [
        (
            "relay-bin.000001",
            include_bytes!("../../tests/fixtures/relay/relay-bin.000001"),
        ),
        (
            "relay-bin.000002",
            include_bytes!("../../tests/fixtures/relay/relay-bin.000002"),
        ),
        (
            "relay-bin.000003",
            include_bytes!("../../tests/fixtures/relay/relay-bin.000003"),
        ),
        (
            "relay-bin.000004",
            include_bytes!("../../tests/fixtures/relay/relay-bin.000004"),
        ),
        (
            "relay-bin.000005",
            include_bytes!("../../tests/fixtures/relay/relay-bin.000005"),
        ),
    ];
    const MASTER1: &[u8] = include_bytes!("../../tests/fixtures/relay/mysql-bin.000001");
    const MASTER2: &[u8] = include_bytes!("../../tests/fixtures/relay/mysql-bin.000002");

    fn relay(range: std::ops::Range<usize>) -> Vec<RelayFile<'static>> {
        RELAY[range]
            .iter()
            .map(|(name, bytes)| RelayFile { name, bytes })
            .collect()
    }

    fn pos(file: u32, p: u64) -> BinlogPos {
        BinlogPos::new(format!("mysql-bin.00000{file}"), p)
    }

    /// The master's data events (what a diff must hold) in `bytes` between two offsets.
    fn master_events(bytes: &[u8], from: usize, to: usize) -> Vec<u8> {
        let fde_end = format_description_end(bytes).unwrap();
        let mut out = Vec::new();
        for (at, h) in events(&bytes[fde_end..]) {
            let at = fde_end + at;
            let end = h.next_pos as usize;
            let skip = matches!(
                h.type_code,
                ROTATE_EVENT | GTID_LIST_EVENT | BINLOG_CHECKPOINT_EVENT
            );
            if end > from && end <= to && !skip {
                out.extend_from_slice(&bytes[at..at + h.length as usize]);
            }
        }
        out
    }

    fn events_of(diff: &RelayDiff) -> &[u8] {
        let fde_end = format_description_end(&diff.bytes).unwrap();
        &diff.bytes[fde_end..]
    }

    #[test]
    fn a_diff_across_a_master_rotation_and_a_relay_rotation_is_the_masters_bytes() {
        let from = pos(1, 841);
        let to = pos(2, 1578);
        let d = relay_diff(&relay(0..5), &from, &to).unwrap();
        let gtids: Vec<String> = (4..=13).map(|n| format!("0-1-{n}")).collect();
        assert_eq!(d.gtids, gtids);
        // Exactly the master's events after 841 in its first file and up to 1578 in its
        // second, byte for byte: nothing of the relay logs' own, no rotate, no copied header.
        let mut want = master_events(MASTER1, 841, usize::MAX);
        want.extend(master_events(MASTER2, 0, 1578));
        assert_eq!(events_of(&d), &want[..]);
        // Headed by the master's format description event: a binlog mariadb-binlog reads.
        assert_eq!(&d.bytes[..4], MAGIC);
        let h = super::super::parse_header(&d.bytes[4..]).unwrap();
        assert_eq!((h.type_code, h.server_id), (FORMAT_DESCRIPTION_EVENT, 1));
        // Contiguous pieces of three relay logs (the binlog checkpoint inside 0-1-9's file
        // splits relay-bin.000004 in two).
        let mut names: Vec<&str> = d.pieces.iter().map(|(n, _, _)| n.as_str()).collect();
        names.dedup();
        assert_eq!(
            names,
            ["relay-bin.000002", "relay-bin.000004", "relay-bin.000005"]
        );
        assert_eq!(d.pieces[0], ("relay-bin.000002".to_string(), 1068, 2068));
    }

    #[test]
    fn ranges_inside_and_at_the_edges_of_files() {
        type Case = (BinlogPos, BinlogPos, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            // Within the first master file only.
            (pos(1, 841), pos(1, 1265), vec!["0-1-4", "0-1-5"]),
            // From the master's rotate on: its new file's events.
            (pos(2, 4), pos(2, 809), vec!["0-1-8", "0-1-9"]),
            // From the end of the first master file (after its last transaction).
            (pos(1, 1841), pos(2, 554), vec!["0-1-8"]),
            // After the relay log's own rotation only.
            (
                pos(2, 809),
                pos(2, 1578),
                vec!["0-1-10", "0-1-11", "0-1-12", "0-1-13"],
            ),
            // Nothing to cut.
            (pos(2, 1578), pos(2, 1578), vec![]),
            (pos(2, 1578), pos(2, 809), vec![]),
        ];
        for (from, to, want) in cases {
            let d = relay_diff(&relay(0..5), &from, &to).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(d.gtids, want, "{from} to {to}");
            assert_eq!(d.is_empty(), want.is_empty());
        }
    }

    #[test]
    fn relay_logs_that_do_not_cover_the_range_say_so() {
        // Without the relay log where mysql-bin.000001:841 is: it cannot be reached.
        assert!(matches!(
            relay_diff(&relay(2..5), &pos(1, 841), &pos(2, 1578)),
            Err(RelayError::NoStart { .. })
        ));
        // The newest relay log alone does not name its master file.
        assert_eq!(
            relay_diff(&relay(4..5), &pos(2, 809), &pos(2, 1578)),
            Err(RelayError::MasterFileUnknown {
                file: "relay-bin.000005".into()
            })
        );
        // An end beyond what was received.
        assert!(matches!(
            relay_diff(&relay(0..5), &pos(1, 841), &pos(2, 9999)),
            Err(RelayError::NoEnd { .. })
        ));
        // A start that is no event boundary.
        assert!(matches!(
            relay_diff(&relay(0..5), &pos(1, 842), &pos(2, 1578)),
            Err(RelayError::NoStart { .. })
        ));
    }

    /// An IO thread that reconnects at an earlier coordinate (GTID replication resends a
    /// transaction it had received in part) makes the relay logs hold events twice: the diff
    /// takes the resent ones only.
    #[test]
    fn events_received_again_after_a_reconnect_are_cut_once() {
        let (_, r2) = RELAY[1];
        // relay-bin.000002 up to the middle of 0-1-5 (GTID at 1280, its XID ends at 1492),
        // then an artificial rotate back to 1053 (the end of 0-1-4), then from 0-1-5 on again.
        let fake_rotate = &r2[256..303];
        let mut bytes = r2[..1420].to_vec();
        bytes.extend_from_slice(fake_rotate);
        let _ = rotate_target(fake_rotate).unwrap();
        // Rewrite the copied rotate's target position to 1053 and fix its checksum.
        let n = bytes.len() - 47;
        bytes[n + HEADER_LEN..n + HEADER_LEN + 8].copy_from_slice(&1053u64.to_le_bytes());
        let sum = crc32(&bytes[n..n + 43]);
        bytes[n + 43..n + 47].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(
            rotate_target(&bytes[n..]),
            Some(("mysql-bin.000001".to_string(), 1053))
        );
        bytes.extend_from_slice(&r2[1280..2068]);
        let files = [RelayFile {
            name: "relay-bin.000002",
            bytes: &bytes,
        }];
        let d = relay_diff(&files, &pos(1, 841), &pos(1, 1841)).unwrap();
        assert_eq!(d.gtids, ["0-1-4", "0-1-5", "0-1-6", "0-1-7"]);
        assert_eq!(
            events_of(&d),
            &master_events(MASTER1, 841, 1841)[..],
            "each event once"
        );
    }

    /// The fast path: relay-bin.000005 read from the middle. server2's SQL thread stood at
    /// relay offset 1277 = mysql-bin.000002:1578; a replica at mysql-bin.000002:1021 (after
    /// 0-1-10) needs what starts 557 bytes before.
    #[test]
    fn a_relay_log_read_from_the_middle() {
        let (name, r5) = RELAY[4];
        let at = tail_offset(1277, 1578, 1021).unwrap();
        assert_eq!(at, 720);
        let file = tail_from(&r5[..600.min(r5.len())], &r5[at as usize..], 1021).unwrap();
        let files = [RelayFile { name, bytes: &file }];
        let from = pos(2, 1021);
        let d = relay_diff_at(&files, Some(&from), &from, &pos(2, 1578)).unwrap();
        assert_eq!(d.gtids, ["0-1-11", "0-1-12", "0-1-13"]);
        assert_eq!(
            events_of(&d),
            &master_events(MASTER2, 1021, 1578)[..],
            "byte for byte"
        );
        // Headed by the master's format description event, found in the head.
        let h = super::super::parse_header(&d.bytes[4..]).unwrap();
        assert_eq!(h.server_id, 1);
        // A later replica in the same cut: reached when its position goes by.
        let d = relay_diff_at(&files, Some(&from), &pos(2, 1228), &pos(2, 1578)).unwrap();
        assert_eq!(d.gtids, ["0-1-12", "0-1-13"]);
        // An offset that is not where that master event starts (an event boundary of the
        // wrong coordinate, the middle of an event, the relay log's own events): no.
        assert!(tail_from(r5, &r5[927..], 1021).is_none());
        assert!(tail_from(r5, &r5[721..], 1021).is_none());
        assert!(tail_from(r5, &r5[4..], 1021).is_none());
        // Positions that cannot be.
        assert_eq!(tail_offset(100, 1578, 1021), None);
        assert_eq!(tail_offset(1277, 1000, 1021), None);
    }

    #[test]
    fn rotate_targets_with_and_without_a_checksum() {
        let (_, r2) = RELAY[1];
        let with = &r2[256..303];
        assert_eq!(
            rotate_target(with),
            Some(("mysql-bin.000001".to_string(), 328))
        );
        let mut without = with[..43].to_vec();
        without[9..13].copy_from_slice(&43u32.to_le_bytes());
        assert_eq!(
            rotate_target(&without),
            Some(("mysql-bin.000001".to_string(), 328))
        );
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// Never panics on arbitrary bytes after a valid header.
    #[test]
    fn arbitrary_bytes() {
        let (_, r2) = RELAY[1];
        let mut x: u32 = 11;
        for n in 0..500 {
            let mut bytes = r2[..256].to_vec();
            bytes.extend((0..(n % 300)).map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            }));
            let files = [RelayFile {
                name: "x",
                bytes: &bytes,
            }];
            let _ = relay_diff(&files, &pos(1, 4), &pos(1, 900));
            let cut = &r2[..(n * 7) % r2.len()];
            let files = [RelayFile {
                name: "y",
                bytes: cut,
            }];
            let _ = relay_diff(&files, &pos(1, 841), &pos(1, 1841));
        }
    }
}
