//! A small, pure binlog reader: bytes in, events and positions out. Enough to salvage the
//! tail of a dead master's binary log: find the end of the format description event (the
//! header a partial file needs) and the checksum it announces, walk events to cut a
//! crash-torn tail at the last complete event (with CRC32 checksums: the last event whose
//! checksum holds), and list the GTIDs of the transactions a tail carries whole (for the
//! failover report), MariaDB's (`domain-server-seq`) and MySQL's (`uuid:n`): a transaction
//! whose end (XID or COMMIT) a crash did not write is rolled back when the tail is applied,
//! and is no recovered transaction. `relay` cuts the master's events
//! between two master coordinates out of a replica's relay logs (position-based recovery).

pub const MAGIC: &[u8; 4] = b"\xfebin";
pub const HEADER_LEN: usize = 19;
pub const FORMAT_DESCRIPTION_EVENT: u8 = 15;
pub const XID_EVENT: u8 = 16;
pub const ROTATE_EVENT: u8 = 4;
pub const QUERY_EVENT: u8 = 2;
/// QUERY_EVENT's fixed part after the common header: thread id (4), execution time (4),
/// database name length (1), error code (2), status variables length (2).
const QUERY_POST_HEADER_LEN: usize = 13;
/// MariaDB GTID event flag: the group is this one event and the next, with no COMMIT (DDL).
const FL_STANDALONE: u8 = 1;
/// MariaDB's GTID event.
pub const MARIADB_GTID_EVENT: u8 = 162;
/// MySQL's GTID event: flags (1), source UUID (16), transaction number (8), ...
pub const GTID_LOG_EVENT: u8 = 33;
/// MySQL's event group start without a GTID (gtid_mode=OFF): same layout, UUID and number 0.
pub const ANONYMOUS_GTID_LOG_EVENT: u8 = 34;
/// MySQL: the GTID set of every earlier binlog file, second event of each file.
pub const PREVIOUS_GTIDS_LOG_EVENT: u8 = 35;
/// MySQL 8.0.16+ `XA PREPARE`: ends the first half of an XA transaction.
const XA_PREPARE_LOG_EVENT: u8 = 38;
/// MySQL 8.0.20+ binlog transaction compression: the whole transaction in one event.
const TRANSACTION_PAYLOAD_EVENT: u8 = 40;
/// MySQL 8.3+ GTID event of a tagged GTID (serialized in another layout, not decoded here).
pub const GTID_TAGGED_LOG_EVENT: u8 = 42;
/// Header flag of a binlog file's format description event while the server writes the file.
const LOG_EVENT_BINLOG_IN_USE_F: u8 = 0x1;
/// The format description event's checksum algorithm byte: CRC32.
const CHECKSUM_CRC32: u8 = 1;
/// The format description event's fixed part: binlog version (2), server version (50),
/// creation time (4), common header length (1); the post-header lengths follow.
const FDE_FIXED_LEN: usize = 2 + 50 + 4 + 1;

pub mod relay;
#[cfg(test)]
pub mod testing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    pub timestamp: u32,
    pub type_code: u8,
    pub server_id: u32,
    pub length: u32,
    /// Position of the next event in the file (the binlog coordinate after this event).
    pub next_pos: u32,
    pub flags: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinlogError {
    #[error("not a binary log (bad magic number)")]
    BadMagic,
    #[error("truncated: {0}")]
    Truncated(&'static str),
    #[error("the first event is type {0}, not a format description event")]
    NoFormatDescription(u8),
    #[error("invalid event at offset {offset}: length {length}")]
    BadEvent { offset: usize, length: u32 },
    #[error("the event at offset {offset} fails its CRC32 checksum")]
    BadChecksum { offset: usize },
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

pub fn parse_header(b: &[u8]) -> Option<EventHeader> {
    if b.len() < HEADER_LEN {
        return None;
    }
    Some(EventHeader {
        timestamp: u32_at(b, 0),
        type_code: b[4],
        server_id: u32_at(b, 5),
        length: u32_at(b, 9),
        next_pos: u32_at(b, 13),
        flags: u16::from_le_bytes([b[17], b[18]]),
    })
}

/// How the events of a binlog end: with a CRC32 of the event or with nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Off,
    Crc32,
}

impl Checksum {
    pub fn trailer_len(self) -> usize {
        match self {
            Checksum::Off => 0,
            Checksum::Crc32 => 4,
        }
    }

    /// Does the event (its bytes, header included) carry a checksum that holds?
    pub fn holds(self, event: &[u8]) -> bool {
        match self {
            Checksum::Off => true,
            Checksum::Crc32 if event.len() < HEADER_LEN + 4 => false,
            Checksum::Crc32 => {
                let (data, sum) = event.split_at(event.len() - 4);
                crc32(data).to_le_bytes() == sum
            }
        }
    }
}

/// A binlog file's format description event, as far as cutting a tail needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    /// The offset right after it.
    pub end: usize,
    /// The server version that wrote the file (`8.0.36-log`, `10.11.6-MariaDB-log`).
    pub server_version: String,
    pub checksum: Checksum,
}

/// The first event of a binlog file, read: every server since MySQL 5.6.1 and MariaDB 5.3
/// ends its body with the checksum algorithm (1 byte) and a 4-byte checksum field (a CRC32
/// of the event when the algorithm is CRC32, whatever otherwise).
pub fn format_description(file_start: &[u8]) -> Result<FormatDescription, BinlogError> {
    let end = format_description_end(file_start)?;
    let ev = &file_start[4..end];
    let body = &ev[HEADER_LEN..];
    if body.len() < FDE_FIXED_LEN + 5 {
        return Err(BinlogError::Truncated("format description event"));
    }
    let version = &body[2..52];
    let version = &version[..version.iter().position(|b| *b == 0).unwrap_or(50)];
    let checksum = match body[body.len() - 5] {
        CHECKSUM_CRC32 => Checksum::Crc32,
        _ => Checksum::Off,
    };
    // The server computes the format description event's checksum with
    // LOG_EVENT_BINLOG_IN_USE_F cleared: it sets the flag while the file is open and clears
    // it in place at close, and the checksum holds either way.
    let mut unflagged = ev.to_vec();
    unflagged[17] &= !LOG_EVENT_BINLOG_IN_USE_F;
    if !checksum.holds(&unflagged) {
        return Err(BinlogError::BadChecksum { offset: 4 });
    }
    Ok(FormatDescription {
        end,
        server_version: String::from_utf8_lossy(version).into_owned(),
        checksum,
    })
}

/// CRC-32 (IEEE), as binlog event checksums use it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The offset right after the format description event: a file's header that must precede
/// any tail cut from the middle of the file for it to be readable.
pub fn format_description_end(file_start: &[u8]) -> Result<usize, BinlogError> {
    if file_start.len() < 4 {
        return Err(BinlogError::Truncated("no magic number"));
    }
    if &file_start[..4] != MAGIC {
        return Err(BinlogError::BadMagic);
    }
    let h = parse_header(&file_start[4..]).ok_or(BinlogError::Truncated("no first event"))?;
    if h.type_code != FORMAT_DESCRIPTION_EVENT {
        return Err(BinlogError::NoFormatDescription(h.type_code));
    }
    let end = 4 + h.length as usize;
    if (h.length as usize) < HEADER_LEN || file_start.len() < end {
        return Err(BinlogError::Truncated("format description event"));
    }
    Ok(end)
}

/// Walk the events of `events` (bytes that start at an event boundary) and return the length
/// of the prefix made of whole events: a crash can leave the last event half written.
pub fn complete_events_len(events: &[u8]) -> usize {
    let mut at = 0;
    while let Some(h) = parse_header(&events[at..]) {
        let len = h.length as usize;
        if len < HEADER_LEN || at + len > events.len() {
            break;
        }
        at += len;
    }
    at
}

/// [`complete_events_len`] that also stops at the first event whose checksum fails: a torn
/// write can leave an event whose length is whole and whose bytes are not.
pub fn checked_events_len(events: &[u8], checksum: Checksum) -> usize {
    let mut at = 0;
    while let Some(h) = parse_header(&events[at..]) {
        let len = h.length as usize;
        if len < HEADER_LEN + checksum.trailer_len()
            || at + len > events.len()
            || !checksum.holds(&events[at..at + len])
        {
            break;
        }
        at += len;
    }
    at
}

/// The headers of the whole events in `events`, with their offsets.
pub fn events(events: &[u8]) -> Vec<(usize, EventHeader)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = parse_header(&events[at..]) {
        let len = h.length as usize;
        if len < HEADER_LEN || at + len > events.len() {
            break;
        }
        out.push((at, h));
        at += len;
    }
    out
}

/// One event group (transaction) of a binlog tail, MariaDB's or MySQL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    /// `domain-server-seq` (MariaDB), `uuid:n` (MySQL), `ANONYMOUS` (MySQL, gtid_mode=OFF),
    /// `uuid:tag:?` (a MySQL tagged GTID, whose number is not decoded).
    pub gtid: String,
    /// Offset of its GTID event.
    pub start: usize,
    /// Offset after its last event, when its end is there: an XID event, a COMMIT (or
    /// ROLLBACK) query event, or, for a standalone group (DDL), the one event after the GTID
    /// event. None when the bytes end first (a crash during the write).
    pub end: Option<usize>,
}

/// The query text of a QUERY_EVENT at `at` (with any checksum after it).
fn query_text(bytes: &[u8], at: usize, h: EventHeader) -> Option<&[u8]> {
    let body = bytes.get(at + HEADER_LEN..at + h.length as usize)?;
    let post = body.get(..QUERY_POST_HEADER_LEN)?;
    let db_len = post[8] as usize;
    let status_len = u16::from_le_bytes([post[11], post[12]]) as usize;
    body.get(QUERY_POST_HEADER_LEN + status_len + db_len + 1..)
}

/// The server UUID in its 16 bytes, as MySQL prints it.
fn uuid_text(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// How a group starts: its GTID, and whether it is one event after the GTID event (MariaDB
/// says so in a flag; MySQL's DDL is a query that is not `BEGIN`, decided at the next event).
fn group_start(bytes: &[u8], at: usize, h: EventHeader) -> Option<(String, Option<bool>)> {
    let body = bytes.get(at + HEADER_LEN..at + h.length as usize)?;
    match h.type_code {
        MARIADB_GTID_EVENT => {
            let b = body.get(..13)?;
            let seq = u64::from_le_bytes(b[..8].try_into().ok()?);
            let domain = u32_at(b, 8);
            let standalone = b[12] & FL_STANDALONE != 0;
            Some((format!("{domain}-{}-{seq}", h.server_id), Some(standalone)))
        }
        GTID_LOG_EVENT => {
            let b = body.get(..25)?;
            let gno = u64::from_le_bytes(b[17..25].try_into().ok()?);
            Some((format!("{}:{gno}", uuid_text(&b[1..17])), None))
        }
        ANONYMOUS_GTID_LOG_EVENT => Some(("ANONYMOUS".into(), None)),
        GTID_TAGGED_LOG_EVENT => Some(("tagged GTID (not decoded)".into(), None)),
        _ => None,
    }
}

/// The event groups that start in `events_bytes`, in order, each with its end if the bytes
/// hold it. MariaDB's and MySQL's event groups both start with a GTID event.
pub fn groups(events_bytes: &[u8]) -> Vec<EventGroup> {
    let mut out: Vec<EventGroup> = Vec::new();
    // Standalone: Some(true/false) known, None: MySQL, decided by the first event.
    let mut standalone: Option<bool> = Some(false);
    let mut first = false;
    for (at, h) in events(events_bytes) {
        let next = at + h.length as usize;
        if let Some((gtid, alone)) = group_start(events_bytes, at, h) {
            standalone = alone;
            first = true;
            out.push(EventGroup {
                gtid,
                start: at,
                end: None,
            });
            continue;
        }
        let Some(g) = out.last_mut().filter(|g| g.end.is_none()) else {
            continue;
        };
        let query = (h.type_code == QUERY_EVENT)
            .then(|| query_text(events_bytes, at, h))
            .flatten();
        if first && standalone.is_none() {
            // MySQL: a transaction opens with BEGIN; anything else after the GTID event is
            // a statement of its own (DDL).
            standalone = Some(
                query.is_some_and(|q| !q.starts_with(b"BEGIN") && !q.starts_with(b"XA START")),
            );
        }
        first = false;
        let ends = standalone == Some(true)
            || matches!(
                h.type_code,
                XID_EVENT | XA_PREPARE_LOG_EVENT | TRANSACTION_PAYLOAD_EVENT
            )
            || query.is_some_and(|q| q.starts_with(b"COMMIT") || q.starts_with(b"ROLLBACK"));
        if ends {
            g.end = Some(next);
        }
    }
    out
}

/// GTIDs (`domain-server-seq`, `uuid:n`) of the transactions in `events` that have their
/// end: a transaction torn by a crash is rolled back when the tail is applied, never
/// recovered. Groups without a GTID (MySQL's anonymous ones) are not listed.
pub fn gtids(events_bytes: &[u8]) -> Vec<String> {
    groups(events_bytes)
        .into_iter()
        .filter(|g| g.end.is_some() && g.gtid != "ANONYMOUS")
        .map(|g| g.gtid)
        .collect()
}

/// How many whole transactions the bytes hold, anonymous ones included.
pub fn whole_groups(events_bytes: &[u8]) -> usize {
    groups(events_bytes)
        .iter()
        .filter(|g| g.end.is_some())
        .count()
}

/// The transaction the bytes end in the middle of, if any: its GTID and the offset of its
/// GTID event (where the tail must be cut not to apply half of it).
pub fn torn_group(events_bytes: &[u8]) -> Option<(String, usize)> {
    groups(events_bytes)
        .pop()
        .filter(|g| g.end.is_none())
        .map(|g| (g.gtid, g.start))
}

/// A MySQL PREVIOUS_GTIDS_LOG_EVENT (its bytes, header included; `checksum` as the file's
/// format description says): the GTID set of every earlier binlog file, as
/// `uuid:a-b:c-d,...`. Its body: the number of UUIDs (8), then per UUID the UUID (16), the
/// number of intervals (8) and each interval as start and end-exclusive (8 + 8). The tagged
/// layout of 8.3+ (a format byte in the count's top byte) is not decoded: None.
pub fn previous_gtids(event: &[u8], checksum: Checksum) -> Option<String> {
    let h = parse_header(event)?;
    if h.type_code != PREVIOUS_GTIDS_LOG_EVENT {
        return None;
    }
    let body = event.get(HEADER_LEN..event.len().checked_sub(checksum.trailer_len())?)?;
    let u64_at = |i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(body.get(i..i + 8)?.try_into().ok()?))
    };
    let n_sids = u64_at(0)?;
    if n_sids >> 56 != 0 {
        return None;
    }
    let mut at = 8;
    let mut parts = Vec::new();
    for _ in 0..n_sids {
        let uuid = uuid_text(body.get(at..at + 16)?);
        let n = u64_at(at + 16)?;
        at += 24;
        let mut ranges = Vec::new();
        for _ in 0..n {
            let (a, b) = (u64_at(at)?, u64_at(at + 8)?);
            at += 16;
            if b <= a {
                return None;
            }
            ranges.push(if b == a + 1 {
                a.to_string()
            } else {
                format!("{a}-{}", b - 1)
            });
        }
        parts.push(format!("{uuid}:{}", ranges.join(":")));
    }
    (at == body.len()).then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::testing::{MySqlLog, UUID_TEXT};
    use super::*;

    fn event(type_code: u8, server_id: u32, body: &[u8], next: u32) -> Vec<u8> {
        let len = (HEADER_LEN + body.len()) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        v.push(type_code);
        v.extend_from_slice(&server_id.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&next.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn gtid_body(seq: u64, domain: u32) -> Vec<u8> {
        gtid_body_flags(seq, domain, 0)
    }

    fn gtid_body_flags(seq: u64, domain: u32, flags: u8) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&domain.to_le_bytes());
        b.push(flags);
        b
    }

    /// A QUERY_EVENT body with a stand-in checksum after it.
    fn query_body(db: &str, query: &str) -> Vec<u8> {
        let mut b = testing::query_body(db, query);
        b.extend_from_slice(&[1, 2, 3, 4]); // CRC32
        b
    }

    /// Only transactions whose end is in the bytes count: XID (InnoDB), a COMMIT query
    /// (non-transactional engines), a standalone DDL group; the one a crash cut after its
    /// row events, whose events are each whole, does not.
    #[test]
    fn a_transaction_without_its_end_is_not_listed() {
        const TABLE_MAP: u8 = 19;
        const WRITE_ROWS: u8 = 30;
        let trx = |seq: u64, end: Option<Vec<u8>>| {
            let mut v = event(MARIADB_GTID_EVENT, 1, &gtid_body(seq, 0), 0);
            v.extend(event(QUERY_EVENT, 1, &query_body("db", "BEGIN"), 0));
            v.extend(event(TABLE_MAP, 1, &[0u8; 20], 0));
            v.extend(event(WRITE_ROWS, 1, &[0u8; 30], 0));
            if let Some(e) = end {
                v.extend(e);
            }
            v
        };
        let mut tail = trx(7, Some(event(XID_EVENT, 1, &[0u8; 12], 0)));
        tail.extend(trx(
            8,
            Some(event(QUERY_EVENT, 1, &query_body("db", "COMMIT"), 0)),
        ));
        tail.extend(event(
            MARIADB_GTID_EVENT,
            1,
            &gtid_body_flags(9, 0, FL_STANDALONE),
            0,
        ));
        tail.extend(event(
            QUERY_EVENT,
            1,
            &query_body("db", "CREATE TABLE t (id INT)"),
            0,
        ));
        let whole = tail.len();
        // Cut by the crash just before its XID: every event it has is whole.
        tail.extend(trx(10, None));
        assert_eq!(complete_events_len(&tail), tail.len());
        assert_eq!(gtids(&tail), ["0-1-7", "0-1-8", "0-1-9"]);
        assert_eq!(torn_group(&tail), Some(("0-1-10".to_string(), whole)));
        assert_eq!(torn_group(&tail[..whole]), None);
        let groups = groups(&tail);
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[2].end, Some(whole));
        // A standalone group cut after its GTID event has no end either.
        let mut ddl = event(
            MARIADB_GTID_EVENT,
            1,
            &gtid_body_flags(11, 0, FL_STANDALONE),
            0,
        );
        assert_eq!(torn_group(&ddl), Some(("0-1-11".to_string(), 0)));
        ddl.extend(event(QUERY_EVENT, 1, &query_body("db", "DROP TABLE t"), 0));
        assert_eq!(gtids(&ddl), ["0-1-11"]);
    }

    #[test]
    fn header_and_torn_tail() {
        let mut file = MAGIC.to_vec();
        file.extend(event(FORMAT_DESCRIPTION_EVENT, 1, &[0u8; 60], 83));
        let fde_end = file.len();
        let tail_start = file.len();
        file.extend(event(MARIADB_GTID_EVENT, 1, &gtid_body(7, 0), 0));
        file.extend(event(XID_EVENT, 1, &[0u8; 8], 0));
        file.extend(event(MARIADB_GTID_EVENT, 1, &gtid_body(8, 0), 0));
        let whole = file.len();
        file.extend(&event(XID_EVENT, 1, &[0u8; 8], 0)[..10]); // torn by the crash
        assert_eq!(format_description_end(&file), Ok(fde_end));
        let tail = &file[tail_start..];
        assert_eq!(tail_start + complete_events_len(tail), whole);
        // 0-1-8 lost its XID with the torn event: not a transaction that can be recovered.
        assert_eq!(gtids(tail), ["0-1-7"]);
        assert_eq!(
            format_description_end(b"\xfebix"),
            Err(BinlogError::BadMagic)
        );
        assert!(format_description_end(&file[..30]).is_err());
    }

    /// A MySQL 8.0 binlog with GTIDs, with and without CRC32 checksums: the header, the
    /// previous GTIDs, whole transactions and DDL listed by GTID, a transaction a crash cut
    /// before its XID cut off.
    #[test]
    fn mysql_binlog_with_gtids_and_checksums() {
        for crc in [true, false] {
            let mut log = MySqlLog::new(crc);
            let fde_end = log.bytes.len();
            log.previous(10);
            let events_start = log.bytes.len();
            log.transaction(false, 11, true);
            log.gtid(false, 12)
                .query("CREATE TABLE t (id INT PRIMARY KEY)");
            log.transaction(false, 13, true);
            let whole = log.bytes.len();
            log.transaction(false, 14, false);
            let file = log.bytes.clone();
            let fd = format_description(&file).unwrap();
            let want = if crc { Checksum::Crc32 } else { Checksum::Off };
            assert_eq!((fd.end, fd.checksum), (fde_end, want), "crc {crc}");
            assert_eq!(fd.server_version, "8.0.36-log");
            let (_, h) = events(&file[fde_end..])[0];
            let prev = &file[fde_end..fde_end + h.length as usize];
            assert_eq!(
                previous_gtids(prev, fd.checksum).as_deref(),
                Some(format!("{UUID_TEXT}:1-10").as_str())
            );
            let tail = &file[events_start..];
            assert_eq!(checked_events_len(tail, fd.checksum), tail.len());
            assert_eq!(
                gtids(tail),
                [11, 12, 13].map(|n| format!("{UUID_TEXT}:{n}")),
                "crc {crc}"
            );
            assert_eq!(
                torn_group(tail),
                Some((format!("{UUID_TEXT}:14"), whole - events_start))
            );
            assert_eq!(torn_group(&tail[..whole - events_start]), None);
        }
    }

    /// A torn write that kept the length field: only the checksum tells.
    #[test]
    fn a_bad_checksum_ends_the_whole_events() {
        let mut log = MySqlLog::new(true);
        let start = log.bytes.len();
        log.transaction(false, 1, true);
        let whole = log.bytes.len() - start;
        log.transaction(false, 2, true);
        let mut bytes = log.bytes[start..].to_vec();
        let last = bytes.len() - 6;
        bytes[last] ^= 0xff;
        assert_eq!(complete_events_len(&bytes), bytes.len());
        let cut = checked_events_len(&bytes, Checksum::Crc32);
        assert!(cut > whole && cut < bytes.len(), "{cut}");
        assert_eq!(gtids(&bytes[..cut]), [format!("{UUID_TEXT}:1")]);
        assert_eq!(checked_events_len(&bytes, Checksum::Off), bytes.len());
        // A file the server still writes: its format description event has the in-use flag,
        // which its checksum does not cover.
        let mut file = MySqlLog::new(true).bytes;
        file[4 + 17] |= LOG_EVENT_BINLOG_IN_USE_F;
        assert_eq!(format_description(&file).unwrap().checksum, Checksum::Crc32);
        // The format description event's own checksum is checked too.
        let mut file = MySqlLog::new(true).bytes;
        file[30] ^= 1;
        assert_eq!(
            format_description(&file),
            Err(BinlogError::BadChecksum { offset: 4 })
        );
    }

    /// gtid_mode=OFF: anonymous groups are cut by the same rules and listed by no GTID.
    #[test]
    fn anonymous_groups() {
        let mut log = MySqlLog::new(true);
        let start = log.bytes.len();
        log.transaction(true, 1, true).transaction(true, 2, true);
        let whole = log.bytes.len() - start;
        log.transaction(true, 3, false);
        let tail = &log.bytes[start..];
        assert!(gtids(tail).is_empty());
        assert_eq!(whole_groups(tail), 2);
        assert_eq!(torn_group(tail), Some(("ANONYMOUS".to_string(), whole)));
    }

    /// The MariaDB binlog captured from the sandbox: CRC32 announced, every checksum holds.
    #[test]
    fn a_captured_mariadb_binlog_has_crc32_checksums_that_hold() {
        let file = include_bytes!("../../tests/fixtures/relay/mysql-bin.000001");
        let fd = format_description(file).unwrap();
        assert_eq!(fd.checksum, Checksum::Crc32);
        assert!(
            fd.server_version.contains("MariaDB"),
            "{}",
            fd.server_version
        );
        let events = &file[fd.end..];
        assert_eq!(checked_events_len(events, fd.checksum), events.len());
        assert!(!gtids(events).is_empty());
    }

    /// Never panics on arbitrary bytes.
    #[test]
    fn arbitrary_bytes() {
        let mut x: u32 = 7;
        for n in 0..2000 {
            let bytes: Vec<u8> = (0..(n % 97))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = format_description_end(&bytes);
            let _ = complete_events_len(&bytes);
            let _ = gtids(&bytes);
            let _ = torn_group(&bytes);
            let _ = format_description(&bytes);
            let _ = checked_events_len(&bytes, Checksum::Crc32);
            let _ = previous_gtids(&bytes, Checksum::Off);
        }
    }
}
