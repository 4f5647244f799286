//! GTID positions of both flavours with the set algebra `mha` needs: MariaDB positions
//! (`domain-server-seq` lists) and MySQL sets (`uuid:1-5:7-9`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GTID {text:?}: {why}")]
pub struct GtidError {
    pub text: String,
    pub why: &'static str,
}

/// A MariaDB GTID position: the last GTID per (domain, server_id), as in `@@gtid_binlog_pos`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MariaGtidPos(pub BTreeMap<(u32, u32), u64>);

impl MariaGtidPos {
    pub fn parse(text: &str) -> Result<Self, GtidError> {
        let mut map = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |why| GtidError {
                text: part.to_string(),
                why,
            };
            let mut it = part.split('-');
            let (Some(d), Some(s), Some(n), None) = (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(err("expected domain-server-sequence"));
            };
            let d = d.parse().map_err(|_| err("bad domain id"))?;
            let s = s.parse().map_err(|_| err("bad server id"))?;
            let n: u64 = n.parse().map_err(|_| err("bad sequence number"))?;
            let e = map.entry((d, s)).or_insert(n);
            *e = (*e).max(n);
        }
        Ok(MariaGtidPos(map))
    }

    /// GTIDs this position has that `other` does not cover: entries whose (domain, server)
    /// is missing from `other` or has a higher sequence number here. On a replica compared
    /// with its master, these are errant transactions.
    pub fn not_in(&self, other: &MariaGtidPos) -> MariaGtidPos {
        MariaGtidPos(
            self.0
                .iter()
                .filter(|(k, n)| other.0.get(k).is_none_or(|m| m < n))
                .map(|(k, n)| (*k, *n))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries beyond everything `other` has in their domain (or in a domain `other` lacks).
    /// `@@gtid_binlog_pos` keeps one GTID per domain, whichever server wrote it last, so
    /// positions are compared by sequence number within a domain, not per server_id: a
    /// replica whose last GTID is an older master's `0-1-2` is behind `0-2-60`, not errant.
    pub fn ahead_of(&self, other: &MariaGtidPos) -> MariaGtidPos {
        let theirs = other.domain_max();
        MariaGtidPos(
            self.0
                .iter()
                .filter(|((d, _), n)| theirs.get(d).is_none_or(|m| m < *n))
                .map(|(k, n)| (*k, *n))
                .collect(),
        )
    }

    /// Both positions together: the higher sequence number per (domain, server).
    pub fn union(&self, other: &MariaGtidPos) -> MariaGtidPos {
        let mut out = self.0.clone();
        for (k, n) in &other.0 {
            let e = out.entry(*k).or_insert(*n);
            *e = (*e).max(*n);
        }
        MariaGtidPos(out)
    }

    /// One GTID per domain, the one with the highest sequence number: the form
    /// `MASTER_GTID_WAIT` and `gtid_slave_pos` take.
    pub fn last_per_domain(&self) -> MariaGtidPos {
        let mut best: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
        for ((d, s), n) in &self.0 {
            let e = best.entry(*d).or_insert((*s, *n));
            if *n > e.1 {
                *e = (*s, *n);
            }
        }
        MariaGtidPos(best.into_iter().map(|(d, (s, n))| ((d, s), n)).collect())
    }

    /// Highest sequence number per domain (the position a replica has reached).
    pub fn domain_max(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        for ((d, _), n) in &self.0 {
            let e = out.entry(*d).or_insert(*n);
            *e = (*e).max(*n);
        }
        out
    }

    /// Has this position reached `other` in every domain of `other`?
    pub fn covers(&self, other: &MariaGtidPos) -> bool {
        other.beyond(self).is_empty()
    }

    /// The domains in which this position is beyond `other`, with this position's last
    /// sequence number there: what `other` lacks.
    pub fn beyond(&self, other: &MariaGtidPos) -> Vec<(u32, u64)> {
        let have = other.domain_max();
        self.domain_max()
            .into_iter()
            .filter(|(d, n)| have.get(d).is_none_or(|m| m < n))
            .collect()
    }
}

impl fmt::Display for MariaGtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|((d, s), n)| format!("{d}-{s}-{n}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for MariaGtidPos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A MySQL GTID set: (source UUID, tag) → sorted, disjoint, inclusive intervals. The tag
/// is empty for untagged GTIDs (`uuid:1-5`); MySQL 8.3+ adds tagged ones (`uuid:tag:1-5`),
/// tags being case-insensitive (kept lowercase here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MysqlGtidSet(pub BTreeMap<(String, String), Vec<(u64, u64)>>);

/// A tag: a letter or underscore, then letters, digits and underscores, at most 32.
fn is_tag(t: &str) -> bool {
    let mut c = t.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && t.len() <= 32
}

/// A server UUID: 32 hex digits, in 8-4-4-4-12 groups (MySQL also reads them without dashes).
fn uuid_of(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let dashed = text.len() == 36;
    if !(dashed || text.len() == 32) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

impl MysqlGtidSet {
    /// `@@gtid_executed` as the server prints it: `uuid:1-5:7,\nuuid2:tag:1-3`, any
    /// whitespace around the parts, tags between intervals (`uuid:1-5:tag:1-3`).
    pub fn parse(text: &str) -> Result<Self, GtidError> {
        let mut set = MysqlGtidSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |why| GtidError {
                text: part.to_string(),
                why,
            };
            let mut it = part.split(':').map(str::trim);
            let uuid = uuid_of(it.next().unwrap_or("")).ok_or(err("expected a server UUID"))?;
            let mut tag = String::new();
            let mut any = false;
            let mut tag_has_interval = true;
            for range in it {
                if range.starts_with(|c: char| c.is_ascii_digit()) {
                    let (a, b) = match range.split_once('-') {
                        Some((a, b)) => (a.trim().parse(), b.trim().parse()),
                        None => (range.parse(), range.parse()),
                    };
                    let (Ok(a), Ok(b)) = (a, b) else {
                        return Err(err("bad interval"));
                    };
                    if a == 0 || b < a {
                        return Err(err("bad interval"));
                    }
                    set.add(&uuid, &tag, a, b);
                    any = true;
                    tag_has_interval = true;
                } else if is_tag(range) && tag_has_interval {
                    tag = range.to_ascii_lowercase();
                    tag_has_interval = false;
                } else {
                    return Err(err("bad tag or interval"));
                }
            }
            if !any || !tag_has_interval {
                return Err(err("no interval"));
            }
        }
        Ok(set)
    }

    /// One transaction `uuid:n` (or `uuid:tag:n`) as a set.
    pub fn one(uuid: &str, tag: &str, n: u64) -> MysqlGtidSet {
        let mut s = MysqlGtidSet::default();
        s.add(uuid, tag, n, n);
        s
    }

    fn add(&mut self, uuid: &str, tag: &str, a: u64, b: u64) {
        let v = self
            .0
            .entry((uuid.to_string(), tag.to_string()))
            .or_default();
        v.push((a, b));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(s, e) in v.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }

    /// self − other.
    pub fn minus(&self, other: &MysqlGtidSet) -> MysqlGtidSet {
        let mut out = MysqlGtidSet::default();
        for ((uuid, tag), ranges) in &self.0 {
            let key = (uuid.clone(), tag.clone());
            let theirs = other.0.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            for &(mut s, e) in ranges {
                for &(ts, te) in theirs {
                    if te < s || ts > e {
                        continue;
                    }
                    if ts > s {
                        out.add(uuid, tag, s, ts - 1);
                    }
                    s = te.saturating_add(1);
                    if s > e {
                        break;
                    }
                }
                if s <= e {
                    out.add(uuid, tag, s, e);
                }
            }
        }
        out
    }

    /// self ∪ other.
    pub fn union(&self, other: &MysqlGtidSet) -> MysqlGtidSet {
        let mut out = self.clone();
        for ((uuid, tag), ranges) in &other.0 {
            for &(a, b) in ranges {
                out.add(uuid, tag, a, b);
            }
        }
        out
    }

    /// self ∩ other.
    pub fn intersection(&self, other: &MysqlGtidSet) -> MysqlGtidSet {
        self.minus(&self.minus(other))
    }

    /// Every GTID of self is in `other`.
    pub fn is_subset(&self, other: &MysqlGtidSet) -> bool {
        self.minus(other).is_empty()
    }

    /// Every GTID of `other` is in self (a replica that has executed `other`).
    pub fn contains(&self, other: &MysqlGtidSet) -> bool {
        other.is_subset(self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// How many transactions the set holds.
    pub fn count(&self) -> u64 {
        self.0.values().flatten().map(|(a, b)| b - a + 1).sum()
    }
}

/// Canonical form: UUIDs lowercase in order, each once, its untagged intervals first, then
/// its tags in order; parts joined by `,` (the server joins them with `,\n`; both read back).
impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let mut last_uuid: Option<&str> = None;
        for ((uuid, tag), ranges) in self.0.iter().filter(|(_, r)| !r.is_empty()) {
            let ranges: Vec<String> = ranges
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            let tagged = if tag.is_empty() {
                ranges.join(":")
            } else {
                format!("{tag}:{}", ranges.join(":"))
            };
            match (last_uuid, parts.last_mut()) {
                (Some(u), Some(p)) if u == uuid => {
                    p.push(':');
                    p.push_str(&tagged);
                }
                _ => parts.push(format!("{uuid}:{tagged}")),
            }
            last_uuid = Some(uuid);
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for MysqlGtidSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A server's GTID position, of either flavour: what the failover, the switchover and a
/// rejoin compare and wait for. MariaDB's is a position (the last GTID per domain and
/// server); MySQL's a set. Operations between the two flavours (one cluster never mixes them)
/// treat the other as empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidPos {
    MariaDb(MariaGtidPos),
    MySql(MysqlGtidSet),
}

impl Default for GtidPos {
    fn default() -> Self {
        GtidPos::MariaDb(MariaGtidPos::default())
    }
}

impl From<MariaGtidPos> for GtidPos {
    fn from(p: MariaGtidPos) -> Self {
        GtidPos::MariaDb(p)
    }
}

impl From<MysqlGtidSet> for GtidPos {
    fn from(s: MysqlGtidSet) -> Self {
        GtidPos::MySql(s)
    }
}

impl GtidPos {
    /// A position (MariaDB) or set (MySQL) as the server wrote it.
    pub fn parse(flavour: super::Flavour, text: &str) -> Result<GtidPos, GtidError> {
        Ok(match flavour {
            super::Flavour::MariaDb => GtidPos::MariaDb(MariaGtidPos::parse(text)?),
            super::Flavour::MySql => GtidPos::MySql(MysqlGtidSet::parse(text)?),
        })
    }

    /// `text` read as a GTID of this one's flavour (one from a binlog tail's list).
    pub fn parse_like(&self, text: &str) -> Result<GtidPos, GtidError> {
        GtidPos::parse(self.flavour(), text)
    }

    pub fn flavour(&self) -> super::Flavour {
        match self {
            GtidPos::MariaDb(_) => super::Flavour::MariaDb,
            GtidPos::MySql(_) => super::Flavour::MySql,
        }
    }

    /// The MariaDB position (empty for MySQL): for what only MariaDB has (gtid_slave_pos).
    pub fn maria(&self) -> MariaGtidPos {
        match self {
            GtidPos::MariaDb(p) => p.clone(),
            GtidPos::MySql(_) => MariaGtidPos::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            GtidPos::MariaDb(p) => p.is_empty(),
            GtidPos::MySql(s) => s.is_empty(),
        }
    }

    /// What this has that `other` does not (MariaDB: per domain and server; MySQL: set
    /// difference).
    pub fn not_in(&self, other: &GtidPos) -> GtidPos {
        match (self, other) {
            (GtidPos::MariaDb(a), GtidPos::MariaDb(b)) => GtidPos::MariaDb(a.not_in(b)),
            (GtidPos::MySql(a), GtidPos::MySql(b)) => GtidPos::MySql(a.minus(b)),
            _ => self.clone(),
        }
    }

    pub fn union(&self, other: &GtidPos) -> GtidPos {
        match (self, other) {
            (GtidPos::MariaDb(a), GtidPos::MariaDb(b)) => GtidPos::MariaDb(a.union(b)),
            (GtidPos::MySql(a), GtidPos::MySql(b)) => GtidPos::MySql(a.union(b)),
            _ if self.is_empty() => other.clone(),
            _ => self.clone(),
        }
    }

    /// Has this reached `other` (MariaDB: in every domain; MySQL: a superset)?
    pub fn covers(&self, other: &GtidPos) -> bool {
        match (self, other) {
            (GtidPos::MariaDb(a), GtidPos::MariaDb(b)) => a.covers(b),
            (GtidPos::MySql(a), GtidPos::MySql(b)) => a.contains(b),
            _ => other.is_empty(),
        }
    }

    /// The form a wait takes: MariaDB's last GTID per domain; a MySQL set as it is.
    pub fn last_per_domain(&self) -> GtidPos {
        match self {
            GtidPos::MariaDb(p) => GtidPos::MariaDb(p.last_per_domain()),
            GtidPos::MySql(_) => self.clone(),
        }
    }

    /// What `replica` lacks of this, in words: MariaDB per domain (`domain 0 up to sequence
    /// 12`), MySQL as the missing set.
    pub fn lacking_in(&self, replica: &GtidPos) -> Vec<String> {
        match (self, replica) {
            (GtidPos::MariaDb(a), GtidPos::MariaDb(b)) => a
                .beyond(b)
                .into_iter()
                .map(|(d, n)| format!("domain {d} up to sequence {n}"))
                .collect(),
            _ => {
                let missing = self.not_in(replica);
                if missing.is_empty() {
                    vec![]
                } else {
                    vec![missing.to_string()]
                }
            }
        }
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidPos::MariaDb(p) => p.fmt(f),
            GtidPos::MySql(s) => s.fmt(f),
        }
    }
}

impl Serialize for GtidPos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_and_covers_go_by_each_domains_last_sequence() {
        let p = |t: &str| MariaGtidPos::parse(t).unwrap();
        assert_eq!(p("0-1-5,1-2-3").beyond(&p("0-2-5,1-2-2")), [(1, 3)]);
        assert_eq!(p("0-1-5").beyond(&p("")), [(0, 5)]);
        assert!(p("0-1-5,1-2-3").covers(&p("0-2-5")));
        assert!(!p("0-1-5").covers(&p("0-1-5,1-1-1")));
        assert!(p("").covers(&p("")));
    }

    #[test]
    fn ahead_of_compares_within_a_domain() {
        let p = |t: &str| MariaGtidPos::parse(t).unwrap();
        assert!(p("0-1-2").ahead_of(&p("0-2-60")).is_empty(), "behind");
        assert_eq!(p("0-1-70").ahead_of(&p("0-2-60")), p("0-1-70"));
        assert_eq!(p("0-2-60,9-3-1").ahead_of(&p("0-2-60")), p("9-3-1"));
        assert!(p("").ahead_of(&p("0-1-1")).is_empty());
    }

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mariadb_errant_transactions() {
        let master = MariaGtidPos::parse("0-1-100,0-2-7").unwrap();
        let cases = [
            ("0-1-100", ""),
            ("0-1-90", ""),
            ("0-1-100,0-2-7", ""),
            ("0-1-100,0-3-1", "0-3-1"), // a write made on replica 3
            ("0-1-101", "0-1-101"),     // ahead of the master in its own stream
            ("0-1-5,1-3-2", "1-3-2"),   // a domain the master never had
        ];
        for (replica, errant) in cases {
            let got = MariaGtidPos::parse(replica).unwrap().not_in(&master);
            assert_eq!(got.to_string(), errant, "{replica}");
        }
        assert_eq!(
            MariaGtidPos::parse("0-1-5, 0-2-9").unwrap().domain_max()[&0],
            9
        );
        assert!(MariaGtidPos::parse("0-1").is_err());
        assert!(MariaGtidPos::parse("").unwrap().is_empty());
    }

    #[test]
    fn mariadb_union_and_last_per_domain() {
        let p = |s: &str| MariaGtidPos::parse(s).unwrap();
        // A binlog position and the executed (current) position of a new master.
        let both = p("0-1-100,0-2-7").union(&p("0-1-120,1-5-3"));
        assert_eq!(both.to_string(), "0-1-120,0-2-7,1-5-3");
        assert_eq!(both.last_per_domain().to_string(), "0-1-120,1-5-3");
        assert_eq!(p("0-2-9,0-1-5").last_per_domain().to_string(), "0-2-9");
        // A replica at 0-1-2 behind a new master that executed 0-1-3 but logged nothing of
        // domain 0 (log_slave_updates=OFF): 0-1-3 can never reach it.
        assert_eq!(
            p("0-1-3").not_in(&p("0-1-2")).not_in(&p("")).to_string(),
            "0-1-3"
        );
        assert!(
            p("0-1-3")
                .not_in(&p("0-1-2"))
                .not_in(&p("0-1-3"))
                .is_empty()
        );
    }

    #[test]
    fn mysql_set_algebra() {
        let set = |s: &str| MysqlGtidSet::parse(s).unwrap();
        let master = set(&format!("{A}:1-100"));
        let cases = [
            (format!("{A}:1-100"), String::new()),
            (format!("{A}:1-50"), String::new()),
            (format!("{A}:1-102"), format!("{A}:101-102")),
            (format!("{A}:1-100,\n{B}:1-3"), format!("{B}:1-3")),
            (format!("{A}:1-10:95-110:200"), format!("{A}:101-110:200")),
        ];
        for (replica, errant) in cases {
            assert_eq!(
                set(&replica).minus(&master).to_string(),
                errant,
                "{replica}"
            );
        }
        assert_eq!(
            set(&format!("{A}:1-3:4-6:8")).to_string(),
            format!("{A}:1-6:8")
        );
        assert!(MysqlGtidSet::parse("abc:1-2").is_err());
        assert!(MysqlGtidSet::parse(&format!("{A}:5-2")).is_err());
    }

    /// `@@gtid_executed` as MySQL prints it (parts joined by ",\n", UUIDs in any case), tagged
    /// GTIDs of 8.3+, and the canonical form the sets are shown in.
    #[test]
    fn mysql_sets_parse_to_their_canonical_form() {
        let upper = A.to_ascii_uppercase();
        let cases = [
            (format!("{B}:1-3,\n{upper}:1-5"), format!("{A}:1-5,{B}:1-3")),
            (format!(" {A}:1-5 ,  {A}:6-9:11 "), format!("{A}:1-9:11")),
            (
                format!("{A}:Tag_1:1-3:5,{A}:1-2"),
                format!("{A}:1-2:tag_1:1-3:5"),
            ),
            (format!("{A}:b:1:a:2"), format!("{A}:a:2:b:1")),
            (format!("{A}:1-3:a:1-2:4:7"), format!("{A}:1-3:a:1-2:4:7")),
            (A.replace('-', "") + ":1", format!("{A}:1")),
            (String::new(), String::new()),
            ("\n".into(), String::new()),
        ];
        for (text, want) in cases {
            let set = MysqlGtidSet::parse(&text).unwrap();
            assert_eq!(set.to_string(), want, "{text:?}");
            assert_eq!(
                MysqlGtidSet::parse(&want).unwrap(),
                set,
                "{want} reads back"
            );
        }
        for bad in [
            A.to_string(),
            format!("{A}:"),
            format!("{A}:0-3"),
            format!("{A}:tag"),
            format!("{A}:1:tag:x-2"),
            format!("{A}:1:9tag:2"),
            format!("{A}:1:{}:2", "t".repeat(33)),
            "3e11fa47-71ca-11e1-9e33-c80aa942956:1".into(),
            "3e11fa47-71ca-11e1-9e33-c80aa942956z:1".into(),
        ] {
            assert!(MysqlGtidSet::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mysql_set_union_intersection_subset() {
        let set = |s: &str| MysqlGtidSet::parse(s).unwrap();
        // (a, b, a ∪ b, a ∩ b, a − b, a ⊆ b)
        let cases = [
            (
                format!("{A}:1-5"),
                format!("{A}:6-9"),
                format!("{A}:1-9"),
                String::new(),
                format!("{A}:1-5"),
                false,
            ),
            (
                format!("{A}:1-5"),
                format!("{A}:1-9"),
                format!("{A}:1-9"),
                format!("{A}:1-5"),
                String::new(),
                true,
            ),
            (
                format!("{A}:1-5:8"),
                format!("{A}:3-8"),
                format!("{A}:1-8"),
                format!("{A}:3-5:8"),
                format!("{A}:1-2"),
                false,
            ),
            (
                format!("{A}:1-5"),
                format!("{B}:1-5"),
                format!("{A}:1-5,{B}:1-5"),
                String::new(),
                format!("{A}:1-5"),
                false,
            ),
            (
                format!("{A}:t:1-5"),
                format!("{A}:1-5"),
                format!("{A}:1-5:t:1-5"),
                String::new(),
                format!("{A}:t:1-5"),
                false,
            ),
            (
                String::new(),
                format!("{A}:1"),
                format!("{A}:1"),
                String::new(),
                String::new(),
                true,
            ),
            (
                format!("{A}:1-100"),
                format!("{A}:50"),
                format!("{A}:1-100"),
                format!("{A}:50"),
                format!("{A}:1-49:51-100"),
                false,
            ),
        ];
        for (a, b, union, inter, minus, subset) in cases {
            let (x, y) = (set(&a), set(&b));
            assert_eq!(x.union(&y).to_string(), union, "{a} ∪ {b}");
            assert_eq!(y.union(&x).to_string(), union, "{b} ∪ {a}");
            assert_eq!(x.intersection(&y).to_string(), inter, "{a} ∩ {b}");
            assert_eq!(x.minus(&y).to_string(), minus, "{a} − {b}");
            assert_eq!(x.is_subset(&y), subset, "{a} ⊆ {b}");
            assert_eq!(y.contains(&x), subset, "{b} ⊇ {a}");
            assert!(x.union(&y).contains(&x) && x.union(&y).contains(&y));
            assert!(x.intersection(&y).is_subset(&x));
        }
        assert_eq!(set(&format!("{A}:1-10:20,{B}:t:5")).count(), 12);
        assert!(MysqlGtidSet::one(A, "", 3).is_subset(&set(&format!("{A}:1-5"))));
        assert!(!MysqlGtidSet::one(A, "t", 3).is_subset(&set(&format!("{A}:1-5"))));
    }

    /// The failover's operations on both flavours.
    #[test]
    fn gtid_positions_of_either_flavour() {
        use crate::topology::Flavour::{MariaDb, MySql};
        let m = |t: &str| GtidPos::parse(MariaDb, t).unwrap();
        let y = |t: &str| GtidPos::parse(MySql, &t.replace('A', A)).unwrap();
        assert!(m("0-1-12").covers(&m("0-1-10")));
        assert!(!m("0-1-10").covers(&m("0-1-12")));
        assert_eq!(
            m("0-1-12").lacking_in(&m("0-1-10")),
            ["domain 0 up to sequence 12"]
        );
        assert_eq!(m("0-1-12,0-2-3").last_per_domain().to_string(), "0-1-12");
        assert!(y("A:1-12").covers(&y("A:1-10")));
        assert!(!y("A:1-10:12").covers(&y("A:1-12")));
        assert_eq!(y("A:1-12").lacking_in(&y("A:1-10")), [format!("{A}:11-12")]);
        assert!(y("A:1-12").lacking_in(&y("A:1-12")).is_empty());
        assert_eq!(y("A:1-5").union(&y("A:6-9")), y("A:1-9"));
        assert_eq!(y("A:1-9").not_in(&y("A:1-5")), y("A:6-9"));
        assert_eq!(y("A:1-9").last_per_domain(), y("A:1-9"));
        assert_eq!(y("A:1-9").parse_like(&format!("{A}:3")).unwrap(), y("A:3"));
        assert!(m("0-1-1").parse_like(&format!("{A}:3")).is_err());
        // Never mixed in one cluster; if they are, the other counts as empty.
        assert!(!y("A:1").covers(&m("0-1-1")));
        assert!(y("A:1").covers(&m("")));
        assert_eq!(GtidPos::default().union(&y("A:1")), y("A:1"));
        assert_eq!(y("A:1-2").maria(), MariaGtidPos::default());
    }
}
