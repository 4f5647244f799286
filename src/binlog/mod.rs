//! A small, pure binlog reader: bytes in, events and positions out. Enough to salvage the
//! tail of a dead master's binary log: find the end of the format description event (the
//! header a partial file needs), walk events to cut a crash-torn tail at the last complete
//! event, and list the MariaDB GTIDs a tail carries (for the failover report).

pub const MAGIC: &[u8; 4] = b"\xfebin";
pub const HEADER_LEN: usize = 19;
pub const FORMAT_DESCRIPTION_EVENT: u8 = 15;
pub const XID_EVENT: u8 = 16;
pub const ROTATE_EVENT: u8 = 4;
/// MariaDB's GTID event.
pub const MARIADB_GTID_EVENT: u8 = 162;

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

/// MariaDB GTIDs (`domain-server-seq`) of the transactions that start in `events`.
pub fn mariadb_gtids(events_bytes: &[u8]) -> Vec<String> {
    events(events_bytes)
        .into_iter()
        .filter(|(_, h)| h.type_code == MARIADB_GTID_EVENT)
        .filter_map(|(at, h)| {
            let body = events_bytes.get(at + HEADER_LEN..at + HEADER_LEN + 12)?;
            let seq = u64::from_le_bytes(body[..8].try_into().ok()?);
            let domain = u32_at(body, 8);
            Some(format!("{domain}-{}-{seq}", h.server_id))
        })
        .collect()
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
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&domain.to_le_bytes());
        b.push(0);
        b
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
        assert_eq!(mariadb_gtids(tail), ["0-1-7", "0-1-8"]);
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
        }
    }
}
