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

/// A MySQL GTID set: source UUID → sorted, disjoint, inclusive intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MysqlGtidSet(pub BTreeMap<String, Vec<(u64, u64)>>);

impl MysqlGtidSet {
    pub fn parse(text: &str) -> Result<Self, GtidError> {
        let mut set = MysqlGtidSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |why| GtidError {
                text: part.to_string(),
                why,
            };
            let mut it = part.split(':');
            let uuid = it.next().unwrap_or("").trim().to_ascii_lowercase();
            if uuid.len() != 36 {
                return Err(err("expected a server UUID"));
            }
            let mut any = false;
            for range in it {
                any = true;
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a.parse(), b.parse()),
                    None => (range.parse(), range.parse()),
                };
                let (Ok(a), Ok(b)) = (a, b) else {
                    return Err(err("bad interval"));
                };
                if a == 0 || b < a {
                    return Err(err("bad interval"));
                }
                set.add(&uuid, a, b);
            }
            if !any {
                return Err(err("no interval"));
            }
        }
        Ok(set)
    }

    fn add(&mut self, uuid: &str, a: u64, b: u64) {
        let v = self.0.entry(uuid.to_string()).or_default();
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
        for (uuid, ranges) in &self.0 {
            let theirs = other.0.get(uuid).map(Vec::as_slice).unwrap_or(&[]);
            for &(mut s, e) in ranges {
                for &(ts, te) in theirs {
                    if te < s || ts > e {
                        continue;
                    }
                    if ts > s {
                        out.add(uuid, s, ts - 1);
                    }
                    s = te.saturating_add(1);
                    if s > e {
                        break;
                    }
                }
                if s <= e {
                    out.add(uuid, s, e);
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(u, r)| {
                let ranges: Vec<String> = r
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect();
                format!("{u}:{}", ranges.join(":"))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for MysqlGtidSet {
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
}
