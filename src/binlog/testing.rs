//! Binlog bytes for tests, built from the documented event layouts.

use super::*;

/// A QUERY_EVENT body: post-header, 2 bytes of status variables, database `db`, query.
pub fn query_body(db: &str, query: &str) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b.push(db.len() as u8);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&[0xAA, 0xBB]);
    b.extend_from_slice(db.as_bytes());
    b.push(0);
    b.extend_from_slice(query.as_bytes());
    b
}

pub const UUID: [u8; 16] = [
    0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62,
];
pub const UUID_TEXT: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

/// MySQL binlog events from the documented layout, their `end_log_pos` filled in and a
/// CRC32 appended when `crc`, as a MySQL 8.0 server writes a binlog file.
pub struct MySqlLog {
    pub bytes: Vec<u8>,
    crc: bool,
}

impl MySqlLog {
    pub fn new(crc: bool) -> MySqlLog {
        let mut log = MySqlLog {
            bytes: MAGIC.to_vec(),
            crc,
        };
        // FDE body: binlog version 4, server version (50), creation time, header length
        // 19, 41 post-header lengths, checksum algorithm, checksum field.
        let mut fde = 4u16.to_le_bytes().to_vec();
        let mut version = b"8.0.36-log".to_vec();
        version.resize(50, 0);
        fde.extend(version);
        fde.extend(0u32.to_le_bytes());
        fde.push(19);
        fde.extend([0u8; 41]);
        fde.push(u8::from(crc));
        log.push_raw(FORMAT_DESCRIPTION_EVENT, &fde, true);
        log
    }

    /// Append an event; `fde`: its checksum field is there whatever the algorithm.
    pub fn push_raw(&mut self, type_code: u8, body: &[u8], fde: bool) {
        let sum = if self.crc || fde { 4 } else { 0 };
        let len = (HEADER_LEN + body.len() + sum) as u32;
        let next = self.bytes.len() as u32 + len;
        let mut ev = 1_700_000_000u32.to_le_bytes().to_vec();
        ev.push(type_code);
        ev.extend(7u32.to_le_bytes());
        ev.extend(len.to_le_bytes());
        ev.extend(next.to_le_bytes());
        ev.extend(0u16.to_le_bytes());
        ev.extend_from_slice(body);
        if self.crc {
            let c = crc32(&ev);
            ev.extend(c.to_le_bytes());
        } else if fde {
            ev.extend([0u8; 4]);
        }
        self.bytes.extend(ev);
    }

    pub fn push(&mut self, type_code: u8, body: &[u8]) -> &mut Self {
        self.push_raw(type_code, body, false);
        self
    }

    /// GTID_LOG_EVENT (or the anonymous one): flags, UUID, number, logical clock
    /// (type 2, last_committed, sequence_number), the 8.0 commit timestamps.
    pub fn gtid(&mut self, anonymous: bool, gno: u64) -> &mut Self {
        let mut b = vec![1u8];
        let (sid, n) = if anonymous {
            ([0u8; 16], 0)
        } else {
            (UUID, gno)
        };
        b.extend(sid);
        b.extend(n.to_le_bytes());
        b.push(2);
        b.extend((gno - 1).to_le_bytes());
        b.extend(gno.to_le_bytes());
        b.extend([0u8; 14]);
        let t = if anonymous {
            ANONYMOUS_GTID_LOG_EVENT
        } else {
            GTID_LOG_EVENT
        };
        self.push(t, &b)
    }

    pub fn query(&mut self, q: &str) -> &mut Self {
        self.push(QUERY_EVENT, &query_body("db", q))
    }

    /// BEGIN, a table map, a row event, and (when `commit`) the XID.
    pub fn transaction(&mut self, anonymous: bool, gno: u64, commit: bool) -> &mut Self {
        const TABLE_MAP: u8 = 19;
        const WRITE_ROWS_V2: u8 = 30;
        self.gtid(anonymous, gno).query("BEGIN");
        self.push(TABLE_MAP, &[0u8; 20])
            .push(WRITE_ROWS_V2, &[0u8; 30]);
        if commit {
            self.push(XID_EVENT, &gno.to_le_bytes());
        }
        self
    }

    /// PREVIOUS_GTIDS_LOG_EVENT holding UUID:1-`upto`.
    pub fn previous(&mut self, upto: u64) -> &mut Self {
        let mut b = 1u64.to_le_bytes().to_vec();
        b.extend(UUID);
        b.extend(1u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend((upto + 1).to_le_bytes());
        self.push(PREVIOUS_GTIDS_LOG_EVENT, &b)
    }
}
