//! New master selection: MHA's rules, returned as a ranking with a reason for every server,
//! never just a winner. `check_repl`, `--dry-run` and the failover report print this value.
//!
//! MHA's order of choice (first match wins): a forced `--new_master_host`; a latest replica
//! that is a candidate; any candidate; a latest replica; any replica; config order breaks ties.
//! Excluded: no_master=1, binary log off, a version newer than the oldest replica's, a SQL
//! thread far behind (check_repl_delay=1) and, beyond MHA, delayed replicas and replicas with
//! errant GTIDs.

use serde::Serialize;

use crate::topology::BinlogPos;

/// MHA's "too far behind" threshold for an SQL thread in the same binlog file.
pub const MAX_EXEC_LAG_BYTES: u64 = 100_000_000;

/// What the election needs to know about one replica; plain data, easy to tabulate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaFacts {
    pub block: String,
    pub name: String,
    /// Configuration order (tie-break).
    pub order: usize,
    pub alive: bool,
    pub replicates_from_master: bool,
    pub candidate_master: bool,
    pub no_master: bool,
    pub check_repl_delay: bool,
    pub latest_priority: bool,
    pub log_bin: bool,
    /// Replicated transactions are written to its binlog too (log_slave_updates).
    pub log_slave_updates: bool,
    /// (major, minor) and the version text.
    pub series: (u32, u32),
    pub version: String,
    pub read_pos: Option<BinlogPos>,
    pub exec_pos: Option<BinlogPos>,
    pub sql_delay: u64,
    /// Errant GTIDs, when there are any.
    pub errant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Why {
    Forced,
    Candidate,
    Latest {
        position: String,
    },
    NotLatest {
        position: String,
        latest: String,
    },
    ConfigOrder {
        order: usize,
    },
    NoMasterFlag,
    Unreachable,
    NotReplicatingFromMaster,
    BinlogOff,
    /// log_slave_updates=OFF while other replicas are behind the latest: what they lack would
    /// not be in its binlog, so they could not catch up from it. Chosen only when no other
    /// server can be (the data is safe on it; those replicas need rebuilding).
    NoLogSlaveUpdates {
        behind: Vec<String>,
    },
    /// Behind the latest replica(s), none of which writes replicated transactions to its
    /// binlog (log_slave_updates=OFF): it could not catch up.
    CannotCatchUp {
        latest: Vec<String>,
    },
    NewerVersion {
        version: String,
        oldest: String,
    },
    SqlFarBehind {
        executed: String,
        latest: String,
    },
    Delayed {
        seconds: u64,
    },
    Errant {
        gtids: String,
    },
    NotForced {
        forced: String,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Why::*;
        match self {
            Forced => f.write_str("chosen with --new_master_host"),
            Candidate => f.write_str("candidate_master=1"),
            Latest { position } => write!(f, "has the latest events ({position})"),
            NotLatest { position, latest } => {
                write!(f, "read up to {position}, the latest is {latest}")
            }
            ConfigOrder { order } => write!(f, "position {} in the configuration", order + 1),
            NoMasterFlag => f.write_str("no_master=1"),
            Unreachable => f.write_str("not reachable"),
            NotReplicatingFromMaster => f.write_str("not replicating from the master"),
            BinlogOff => f.write_str("binary logging is off"),
            NoLogSlaveUpdates { behind } => write!(
                f,
                "log_slave_updates is off, and {} would need from its binlog transactions it does not write there (chosen only as a last resort)",
                behind.join(", ")
            ),
            CannotCatchUp { latest } => write!(
                f,
                "behind {}, which does not write replicated transactions to its binlog (log_slave_updates=OFF): it could not catch up",
                latest.join(", ")
            ),
            NewerVersion { version, oldest } => {
                write!(
                    f,
                    "version {version} is newer than the oldest replica's {oldest}"
                )
            }
            SqlFarBehind { executed, latest } => write!(
                f,
                "SQL thread far behind: executed {executed}, latest received {latest} (check_repl_delay=1)"
            ),
            Delayed { seconds } => write!(f, "delayed replica (SQL_Delay={seconds})"),
            Errant { gtids } => write!(f, "has errant GTIDs {gtids}"),
            NotForced { forced } => write!(f, "--new_master_host names {forced}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Lower tier is preferred; within a tier, configuration order.
    Eligible {
        tier: u8,
        reasons: Vec<Why>,
    },
    Ineligible {
        reasons: Vec<Why>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    pub block: String,
    pub name: String,
    /// 1 = would be promoted; None when ineligible.
    pub rank: Option<usize>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Eligible servers best first, then the ineligible ones in configuration order.
    pub servers: Vec<Ranked>,
    pub latest: Option<String>,
}

impl Ranking {
    pub fn winner(&self) -> Option<&Ranked> {
        self.servers.first().filter(|r| r.rank == Some(1))
    }
}

fn is_far_behind(exec: &BinlogPos, latest: &BinlogPos) -> bool {
    let (ef, lf) = (
        BinlogPos::new(exec.file.clone(), 0),
        BinlogPos::new(latest.file.clone(), 0),
    );
    ef < lf || latest.pos.saturating_sub(exec.pos) > MAX_EXEC_LAG_BYTES
}

/// Rank the replicas. `forced` is the block name of `--new_master_host`, if given.
pub fn rank(replicas: &[ReplicaFacts], forced: Option<&str>) -> Ranking {
    let usable: Vec<&ReplicaFacts> = replicas
        .iter()
        .filter(|r| r.alive && r.replicates_from_master)
        .collect();
    let latest = usable.iter().filter_map(|r| r.read_pos.clone()).max();
    let oldest_series = usable.iter().map(|r| r.series).min();
    let oldest_text = usable
        .iter()
        .min_by_key(|r| r.series)
        .map(|r| r.version.clone())
        .unwrap_or_default();

    let mut ranked: Vec<(Option<(u8, usize)>, Ranked)> = replicas
        .iter()
        .map(|r| {
            let mut bad = Vec::new();
            if !r.alive {
                bad.push(Why::Unreachable);
            } else if !r.replicates_from_master {
                bad.push(Why::NotReplicatingFromMaster);
            }
            if r.no_master {
                bad.push(Why::NoMasterFlag);
            }
            if r.alive && !r.log_bin {
                bad.push(Why::BinlogOff);
            }
            // The new master catches up from a latest replica's binlog, and the others from
            // the new master's binlog: log_slave_updates=OFF breaks those paths.
            let latest_ones: Vec<&&ReplicaFacts> =
                usable.iter().filter(|o| o.read_pos == latest).collect();
            if r.alive
                && r.read_pos < latest
                && !latest_ones.is_empty()
                && latest_ones
                    .iter()
                    .all(|o| !(o.log_bin && o.log_slave_updates))
            {
                bad.push(Why::CannotCatchUp {
                    latest: latest_ones.iter().map(|o| o.block.clone()).collect(),
                });
            }
            let mut last_resort = None;
            if r.alive && r.log_bin && !r.log_slave_updates {
                let behind: Vec<String> = usable
                    .iter()
                    .filter(|o| o.block != r.block && o.read_pos < latest)
                    .map(|o| o.block.clone())
                    .collect();
                if !behind.is_empty() {
                    last_resort = Some(Why::NoLogSlaveUpdates { behind });
                }
            }
            if let Some(oldest) = oldest_series
                && r.alive
                && r.series > oldest
            {
                bad.push(Why::NewerVersion {
                    version: r.version.clone(),
                    oldest: oldest_text.clone(),
                });
            }
            // A delayed replica chosen with --new_master_host is promoted after catching up
            // with its delay lifted: neither its delay nor the SQL lag it causes stand in the
            // way.
            let forced_delayed = r.sql_delay > 0 && forced == Some(r.block.as_str());
            if r.check_repl_delay
                && !forced_delayed
                && let (Some(exec), Some(l)) = (&r.exec_pos, &latest)
                && is_far_behind(exec, l)
            {
                bad.push(Why::SqlFarBehind {
                    executed: exec.to_string(),
                    latest: l.to_string(),
                });
            }
            if r.sql_delay > 0 && !forced_delayed {
                bad.push(Why::Delayed {
                    seconds: r.sql_delay,
                });
            }
            if let Some(g) = &r.errant {
                bad.push(Why::Errant { gtids: g.clone() });
            }
            if let Some(f) = forced
                && f != r.block
                && bad.is_empty()
            {
                bad.push(Why::NotForced {
                    forced: f.to_string(),
                });
            }
            let is_latest = latest.is_some() && r.read_pos == latest;
            let mut reasons = Vec::new();
            if forced == Some(r.block.as_str()) {
                reasons.push(Why::Forced);
            }
            if forced_delayed {
                reasons.push(Why::Delayed {
                    seconds: r.sql_delay,
                });
            }
            if r.candidate_master {
                reasons.push(Why::Candidate);
            }
            match (&r.read_pos, &latest) {
                (Some(p), Some(_)) if is_latest => reasons.push(Why::Latest {
                    position: p.to_string(),
                }),
                (Some(p), Some(l)) => reasons.push(Why::NotLatest {
                    position: p.to_string(),
                    latest: l.to_string(),
                }),
                _ => {}
            }
            reasons.push(Why::ConfigOrder { order: r.order });
            let entry = |verdict, rank| Ranked {
                block: r.block.clone(),
                name: r.name.clone(),
                rank,
                verdict,
            };
            if !bad.is_empty() {
                return (None, entry(Verdict::Ineligible { reasons: bad }, None));
            }
            let prefer_latest = r.latest_priority && is_latest;
            let mut tier = match (forced.is_some(), r.candidate_master, prefer_latest) {
                (true, _, _) => 0,
                (_, true, true) => 1,
                (_, true, false) => 2,
                (_, false, true) => 3,
                _ => 4,
            };
            if let Some(why) = last_resort {
                reasons.push(why);
                tier += 10;
            }
            (
                Some((tier, r.order)),
                entry(Verdict::Eligible { tier, reasons }, None),
            )
        })
        .collect();
    ranked.sort_by_key(|(key, r)| match key {
        Some(k) => (0, *k),
        None => (
            1,
            (
                0,
                replicas
                    .iter()
                    .position(|x| x.block == r.block)
                    .unwrap_or(0),
            ),
        ),
    });
    let mut n = 0;
    let servers = ranked
        .into_iter()
        .map(|(key, mut r)| {
            if key.is_some() {
                n += 1;
                r.rank = Some(n);
            }
            r
        })
        .collect();
    Ranking {
        servers,
        latest: latest.map(|l| l.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(block: &str, order: usize, read: u64) -> ReplicaFacts {
        ReplicaFacts {
            block: block.into(),
            name: block.into(),
            order,
            alive: true,
            replicates_from_master: true,
            check_repl_delay: true,
            latest_priority: true,
            log_bin: true,
            log_slave_updates: true,
            series: (10, 11),
            version: "10.11.19".into(),
            read_pos: Some(BinlogPos::new("mysql-bin.000003", read)),
            exec_pos: Some(BinlogPos::new("mysql-bin.000003", read)),
            ..Default::default()
        }
    }

    fn order(r: &Ranking) -> Vec<&str> {
        r.servers
            .iter()
            .filter(|s| s.rank.is_some())
            .map(|s| s.block.as_str())
            .collect()
    }

    fn reasons_of<'a>(r: &'a Ranking, block: &str) -> &'a [Why] {
        match &r.servers.iter().find(|s| s.block == block).unwrap().verdict {
            Verdict::Eligible { reasons, .. } | Verdict::Ineligible { reasons } => reasons,
        }
    }

    #[test]
    fn mha_order_of_choice() {
        // (replicas as (block, read position, candidate), expected eligible order)
        type Case<'a> = (&'a [(&'a str, u64, bool)], &'a [&'a str]);
        let cases: &[Case] = &[
            // No candidates: the latest wins, config order among equals.
            (
                &[("s2", 100, false), ("s3", 200, false), ("s4", 200, false)],
                &["s3", "s4", "s2"],
            ),
            // A latest candidate beats everything.
            (
                &[("s2", 200, false), ("s3", 200, true), ("s4", 100, true)],
                &["s3", "s4", "s2"],
            ),
            // Any candidate beats a non-candidate latest replica.
            (&[("s2", 200, false), ("s3", 100, true)], &["s3", "s2"]),
            // All equal: configuration order.
            (&[("s2", 100, false), ("s3", 100, false)], &["s2", "s3"]),
        ];
        for (input, want) in cases {
            let facts: Vec<ReplicaFacts> = input
                .iter()
                .enumerate()
                .map(|(i, (b, pos, cand))| ReplicaFacts {
                    candidate_master: *cand,
                    ..replica(b, i + 1, *pos)
                })
                .collect();
            assert_eq!(order(&rank(&facts, None)), *want, "{input:?}");
        }
    }

    #[test]
    fn each_exclusion_rule_with_its_reason() {
        let base = || vec![replica("s2", 1, 500), replica("s3", 2, 500)];
        type Change = Box<dyn Fn(&mut ReplicaFacts)>;
        let cases: Vec<(&str, Change, Why)> = vec![
            (
                "no_master",
                Box::new(|r| r.no_master = true),
                Why::NoMasterFlag,
            ),
            ("dead", Box::new(|r| r.alive = false), Why::Unreachable),
            (
                "elsewhere",
                Box::new(|r| r.replicates_from_master = false),
                Why::NotReplicatingFromMaster,
            ),
            (
                "binlog off",
                Box::new(|r| r.log_bin = false),
                Why::BinlogOff,
            ),
            (
                "newer",
                Box::new(|r| {
                    r.series = (11, 4);
                    r.version = "11.4.2".into()
                }),
                Why::NewerVersion {
                    version: "11.4.2".into(),
                    oldest: "10.11.19".into(),
                },
            ),
            (
                "far behind, older file",
                Box::new(|r| r.exec_pos = Some(BinlogPos::new("mysql-bin.000002", 900))),
                Why::SqlFarBehind {
                    executed: "mysql-bin.000002:900".into(),
                    latest: "mysql-bin.000003:500".into(),
                },
            ),
            (
                "delayed",
                Box::new(|r| r.sql_delay = 3600),
                Why::Delayed { seconds: 3600 },
            ),
            (
                "errant",
                Box::new(|r| r.errant = Some("0-3-1".into())),
                Why::Errant {
                    gtids: "0-3-1".into(),
                },
            ),
        ];
        for (name, change, why) in cases {
            let mut facts = base();
            change(&mut facts[0]);
            let r = rank(&facts, None);
            assert_eq!(order(&r), ["s3"], "{name}");
            assert!(
                reasons_of(&r, "s2").contains(&why),
                "{name}: {:?}",
                reasons_of(&r, "s2")
            );
            assert_eq!(r.winner().unwrap().block, "s3");
        }
    }

    #[test]
    fn log_slave_updates_off_matters_only_when_another_replica_is_behind() {
        let off = |r: ReplicaFacts| ReplicaFacts {
            log_slave_updates: false,
            candidate_master: true,
            ..r
        };
        // Everyone at the latest position: nobody needs anything from s2's binlog.
        let facts = vec![off(replica("s2", 1, 500)), replica("s3", 2, 500)];
        assert_eq!(rank(&facts, None).winner().unwrap().block, "s2");
        // s2 behind and off, s3 the latest and the only other: s3 needs nothing from s2.
        let facts = vec![off(replica("s2", 1, 400)), replica("s3", 2, 500)];
        assert_eq!(order(&rank(&facts, None)), ["s2", "s3"]);
        // A third replica behind the latest would need s2's binlog: s2 drops to last resort,
        // below the non-candidates.
        let facts = vec![
            off(replica("s2", 1, 500)),
            replica("s3", 2, 500),
            replica("s4", 3, 450),
        ];
        let r = rank(&facts, None);
        assert_eq!(order(&r), ["s3", "s4", "s2"]);
        assert!(reasons_of(&r, "s2").contains(&Why::NoLogSlaveUpdates {
            behind: vec!["s4".into()]
        }));
        // s3 is behind the only latest replica, which does not log what it replicates: s3
        // cannot catch up (excluded), and s2 is promoted as the last resort; s3 will need
        // rebuilding, but no committed data is lost.
        let facts = vec![off(replica("s2", 1, 500)), replica("s3", 2, 400)];
        let r = rank(&facts, None);
        assert_eq!(order(&r), ["s2"]);
        assert_eq!(
            reasons_of(&r, "s3"),
            [Why::CannotCatchUp {
                latest: vec!["s2".into()]
            }]
        );
    }

    #[test]
    fn sql_lag_rule_follows_check_repl_delay_and_the_100mb_threshold() {
        let mut behind = replica("s2", 1, 300_000_000);
        behind.exec_pos = Some(BinlogPos::new("mysql-bin.000003", 150_000_000));
        behind.candidate_master = true;
        let facts = vec![behind.clone(), replica("s3", 2, 300_000_000)];
        assert_eq!(order(&rank(&facts, None)), ["s3"]);
        behind.check_repl_delay = false;
        assert_eq!(
            order(&rank(
                &[behind.clone(), replica("s3", 2, 300_000_000)],
                None
            )),
            ["s2", "s3"]
        );
        behind.check_repl_delay = true;
        behind.exec_pos = Some(BinlogPos::new("mysql-bin.000003", 250_000_000)); // 50 MB behind
        assert_eq!(
            order(&rank(&[behind, replica("s3", 2, 300_000_000)], None)),
            ["s2", "s3"]
        );
    }

    /// A delayed replica is never chosen by the rules; named with --new_master_host it is, its
    /// delay and the SQL lag it causes notwithstanding (the failover lifts the delay and
    /// catches it up), while every other exclusion still holds.
    #[test]
    fn a_delayed_replica_only_when_forced() {
        let mut delayed = replica("s4", 3, 500);
        delayed.sql_delay = 3600;
        delayed.candidate_master = true;
        delayed.exec_pos = Some(BinlogPos::new("mysql-bin.000001", 4));
        let facts = vec![
            replica("s2", 1, 500),
            replica("s3", 2, 500),
            delayed.clone(),
        ];
        let r = rank(&facts, None);
        assert_eq!(order(&r), ["s2", "s3"]);
        assert!(reasons_of(&r, "s4").contains(&Why::Delayed { seconds: 3600 }));
        let r = rank(&facts, Some("s4"));
        assert_eq!(r.winner().unwrap().block, "s4");
        assert_eq!(
            reasons_of(&r, "s4")[..2],
            [Why::Forced, Why::Delayed { seconds: 3600 }]
        );
        delayed.no_master = true;
        let facts = vec![replica("s2", 1, 500), delayed];
        let r = rank(&facts, Some("s4"));
        assert!(r.winner().is_none());
        assert_eq!(reasons_of(&r, "s4"), [Why::NoMasterFlag]);
    }

    #[test]
    fn forced_choice_wins_or_is_refused_with_reasons() {
        let facts = vec![
            ReplicaFacts {
                candidate_master: true,
                ..replica("s2", 1, 500)
            },
            replica("s3", 2, 400),
        ];
        let r = rank(&facts, Some("s3"));
        assert_eq!(order(&r), ["s3"]);
        assert!(reasons_of(&r, "s3").contains(&Why::Forced));
        assert!(reasons_of(&r, "s2").contains(&Why::NotForced {
            forced: "s3".into()
        }));
        let mut bad = facts.clone();
        bad[1].no_master = true;
        let r = rank(&bad, Some("s3"));
        assert!(r.winner().is_none());
        assert_eq!(reasons_of(&r, "s3"), [Why::NoMasterFlag]);
    }

    /// Invariants on seeded random clusters: the winner is never ineligible, and the ranking
    /// does not depend on the order the facts are given in.
    #[test]
    fn random_clusters_invariants() {
        let mut x: u64 = 42;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        for _ in 0..500 {
            let n = 1 + next(6) as usize;
            let facts: Vec<ReplicaFacts> = (0..n)
                .map(|i| {
                    let mut r = replica(&format!("s{i}"), i, 100 + next(3) * 100);
                    r.candidate_master = next(3) == 0;
                    r.no_master = next(6) == 0;
                    r.alive = next(8) != 0;
                    r.sql_delay = if next(8) == 0 { 60 } else { 0 };
                    r
                })
                .collect();
            let a = rank(&facts, None);
            if let Some(w) = a.winner() {
                assert!(matches!(w.verdict, Verdict::Eligible { .. }));
                let f = facts.iter().find(|f| f.block == w.block).unwrap();
                assert!(f.alive && !f.no_master && f.sql_delay == 0);
            }
            let mut shuffled = facts.clone();
            shuffled.reverse();
            assert_eq!(order(&rank(&shuffled, None)), order(&a));
        }
    }
}
