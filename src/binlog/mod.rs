//! A small, pure binlog reader: bytes in, events and positions out. Enough to salvage the
//! tail of a dead master's binary log: find the end of the format description event (the
//! header a partial file needs), walk events to cut a crash-torn tail at the last complete
//! event, and list the MariaDB GTIDs of the transactions a tail carries whole (for the failover
//! report): a transaction whose end (XID or COMMIT) a crash did not write is rolled back when
//! the tail is applied, and is no recovered transaction. `relay` cuts the master's events
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

pub mod relay;

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

/// One MariaDB event group (transaction) of a binlog tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    /// `domain-server-seq`.
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

/// The MariaDB event groups that start in `events_bytes`, in order, each with its end if the
/// bytes hold it.
pub fn mariadb_groups(events_bytes: &[u8]) -> Vec<EventGroup> {
    let mut out: Vec<EventGroup> = Vec::new();
    let mut standalone = false;
    for (at, h) in events(events_bytes) {
        let next = at + h.length as usize;
        let open = out.last_mut().filter(|g| g.end.is_none());
        if h.type_code == MARIADB_GTID_EVENT {
            let Some(body) = events_bytes.get(at + HEADER_LEN..at + HEADER_LEN + 13) else {
                continue;
            };
            let seq = u64::from_le_bytes(body[..8].try_into().unwrap_or_default());
            let domain = u32_at(body, 8);
            standalone = body[12] & FL_STANDALONE != 0;
            out.push(EventGroup {
                gtid: format!("{domain}-{}-{seq}", h.server_id),
                start: at,
                end: None,
            });
            continue;
        }
        let Some(g) = open else { continue };
        let ends = standalone
            || h.type_code == XID_EVENT
            || (h.type_code == QUERY_EVENT
                && query_text(events_bytes, at, h)
                    .is_some_and(|q| q.starts_with(b"COMMIT") || q.starts_with(b"ROLLBACK")));
        if ends {
            g.end = Some(next);
        }
    }
    out
}

/// MariaDB GTIDs (`domain-server-seq`) of the transactions in `events` that have their end:
/// a transaction torn by a crash is rolled back when the tail is applied, never recovered.
pub fn mariadb_gtids(events_bytes: &[u8]) -> Vec<String> {
    mariadb_groups(events_bytes)
        .into_iter()
        .filter(|g| g.end.is_some())
        .map(|g| g.gtid)
        .collect()
}

/// The transaction the bytes end in the middle of, if any: its GTID and the offset of its
/// GTID event (where the tail must be cut not to apply half of it).
pub fn torn_group(events_bytes: &[u8]) -> Option<(String, usize)> {
    mariadb_groups(events_bytes)
        .pop()
        .filter(|g| g.end.is_none())
        .map(|g| (g.gtid, g.start))
}

#[cfg(test)]
mod tests {
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

    /// A QUERY_EVENT body: post-header, 2 bytes of status variables, database `db`, query.
    fn query_body(db: &str, query: &str) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.push(db.len() as u8);
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&[0xAA, 0xBB]);
        b.extend_from_slice(db.as_bytes());
        b.push(0);
        b.extend_from_slice(query.as_bytes());
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
        assert_eq!(mariadb_gtids(&tail), ["0-1-7", "0-1-8", "0-1-9"]);
        assert_eq!(torn_group(&tail), Some(("0-1-10".to_string(), whole)));
        assert_eq!(torn_group(&tail[..whole]), None);
        let groups = mariadb_groups(&tail);
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
        assert_eq!(mariadb_gtids(&ddl), ["0-1-11"]);
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
        assert_eq!(mariadb_gtids(tail), ["0-1-7"]);
        assert_eq!(
            format_description_end(b"\xfebix"),
            Err(BinlogError::BadMagic)
        );
        assert!(format_description_end(&file[..30]).is_err());
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
            let _ = mariadb_gtids(&bytes);
            let _ = torn_group(&bytes);
        }
    }
}
