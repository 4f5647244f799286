//! Would a failover succeed if the master died now? The manager asks on a slow cadence
//! (`replica_check_interval`) so that a replica that went away is known before the master
//! dies, not when the failover is refused. The answer is the failover's own planning (phase
//! 1's facts, the ranking, the plan) run on the cluster as read, with the master taken as
//! dead; and the per-replica figures the metrics export.

use serde::Serialize;

use super::checks::{self, MasterView};
use super::elect::Ranking;
use super::plan::{self, Asked, Refusal};
use crate::config::Config;
use crate::topology::{BinlogPos, Topology};

/// The answer, as `/status`, `/health/ready`, the metrics and the log line render it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    /// An eligible candidate exists and nothing would refuse the failover.
    pub ready: bool,
    /// How many replicas the ranking finds eligible.
    pub candidates: usize,
    /// `block name` of the replica that would be promoted.
    pub would_promote: Option<String>,
    /// Why a failover now would be refused, in the failover's own words.
    pub refusal: Option<String>,
    /// The ranking a failover now would make (none when refused before ranking).
    pub ranking: Option<Ranking>,
    #[serde(skip)]
    refused: Option<Refusal>,
}

impl Readiness {
    fn refused(r: Refusal, candidates: usize, ranking: Option<Ranking>) -> Readiness {
        Readiness {
            ready: false,
            candidates,
            would_promote: None,
            refusal: Some(r.to_string()),
            ranking,
            refused: Some(r),
        }
    }

    /// One line for the log, in a DBA's words.
    pub fn line(&self) -> String {
        match (&self.refused, &self.would_promote) {
            (Some(Refusal::Unreachable { server, why }), _) => format!(
                "{server} is down ({why}): a failover now would be refused because ignore_fail=0 on it"
            ),
            (Some(Refusal::NotReplicating { server, master }), _) => format!(
                "{server} does not replicate from {master}: a failover now would be refused because ignore_fail=0 on it"
            ),
            (Some(r), _) => format!("a failover now would be refused: {r}"),
            (None, Some(w)) => format!(
                "a failover now would promote {w} ({} eligible candidate(s))",
                self.candidates
            ),
            (None, None) => "a failover now would be refused".into(),
        }
    }
}

/// A failover's plan if the master (index `master` in `topo`) died now.
pub fn if_master_died(topo: &Topology, config: &Config, master: usize) -> Readiness {
    let mut topo = topo.clone();
    topo.servers[master].state = Err("taken as dead: what a failover now would find".into());
    if !matches!(checks::find_master(&topo), MasterView::Unreachable { index } if index == master) {
        // No replica answers to point at the master.
        return Readiness::refused(Refusal::NoReplica, 0, None);
    }
    let asked = Asked::default();
    let facts = match plan::facts(topo, config, &asked) {
        Ok(f) => f,
        Err(r) => return Readiness::refused(r, 0, None),
    };
    let ranking = match plan::rank(&facts, config, &asked) {
        Ok(r) => r,
        Err(r) => return Readiness::refused(r, 0, None),
    };
    let candidates = ranking.servers.iter().filter(|r| r.rank.is_some()).count();
    match plan::plan(&facts, config, &asked, ranking.clone(), None) {
        Ok(p) => Readiness {
            ready: true,
            candidates,
            would_promote: Some(p.new_master),
            refusal: None,
            ranking: Some(ranking),
            refused: None,
        },
        Err(r) => Readiness::refused(r, candidates, Some(ranking)),
    }
}

/// Bytes of the master's binlog (at `master`, with its binlog files and sizes `logs`, oldest
/// first) a replica has not executed yet (it executed up to `executed`). None when the
/// replica's file is not among the master's logs.
pub fn lag_bytes(logs: &[(String, u64)], master: &BinlogPos, executed: &BinlogPos) -> Option<u64> {
    if executed.file == master.file {
        return Some(master.pos.saturating_sub(executed.pos));
    }
    if executed > master {
        return Some(0);
    }
    let from = logs.iter().position(|(f, _)| *f == executed.file)?;
    let to = logs.iter().position(|(f, _)| *f == master.file)?;
    let between: u64 = logs[from + 1..to].iter().map(|(_, size)| size).sum();
    Some(logs[from].1.saturating_sub(executed.pos) + between + master.pos)
}

/// Seconds since a replica last heard from its master: its last heartbeat, or the last time
/// its read position was seen to move (heartbeats are sent only when no event is), whichever
/// is more recent.
pub fn heard_age(heartbeat_age: Option<f64>, moved_ago: Option<f64>) -> Option<f64> {
    match (heartbeat_age, moved_ago) {
        (Some(h), Some(m)) => Some(h.min(m)),
        (h, m) => h.or(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::testing::{observed, state, status_row};

    const CONF: &str = "[server default]\nuser=mha\npassword=x\nssh_user=root\n\
        [server1]\nhostname=db1\n[server2]\nhostname=db2\n[server3]\nhostname=db3\n";

    fn replica(pos: u64, gtid: &str) -> Result<crate::topology::ServerState, String> {
        Ok(state(gtid, Some(status_row("db1", pos, gtid, 0))))
    }

    fn cluster(db3: Result<crate::topology::ServerState, String>) -> Topology {
        Topology {
            servers: vec![
                observed(0, "db1", Ok(state("0-1-12", None))),
                observed(1, "db2", replica(1000, "0-1-10")),
                observed(2, "db3", db3),
            ],
        }
    }

    #[test]
    fn readiness_follows_the_failovers_own_rules() {
        let ignore_fail = CONF.replace("hostname=db3\n", "hostname=db3\nignore_fail=1\n");
        let no_master = CONF
            .replace("hostname=db2\n", "hostname=db2\nno_master=1\n")
            .replace("hostname=db3\n", "hostname=db3\nno_master=1\n");
        let down = || Err("connection refused".to_string());
        // (db3's state, configuration, ready, candidates, log line contains)
        let cases = [
            (
                replica(1200, "0-1-12"),
                CONF,
                true,
                2,
                "would promote server3 db3",
            ),
            (
                down(),
                CONF,
                false,
                0,
                "db3(db3:3306) is down (connection refused)",
            ),
            (down(), CONF, false, 0, "because ignore_fail=0 on it"),
            (
                down(),
                ignore_fail.as_str(),
                true,
                1,
                "would promote server2 db2",
            ),
            (
                replica(1200, "0-1-12"),
                no_master.as_str(),
                false,
                0,
                "None of existing slaves",
            ),
        ];
        for (db3, conf, ready, candidates, line) in cases {
            let config = crate::config::from_text(conf);
            let r = if_master_died(&cluster(db3), &config, 0);
            assert_eq!((r.ready, r.candidates), (ready, candidates), "{r:?}");
            assert!(r.line().contains(line), "{} lacks {line}", r.line());
            assert_eq!(r.refusal.is_none(), ready);
        }
    }

    #[test]
    fn no_replica_answering_is_a_refusal() {
        let down = || Err("connection refused".to_string());
        let topo = Topology {
            servers: vec![
                observed(0, "db1", Ok(state("0-1-12", None))),
                observed(1, "db2", down()),
                observed(2, "db3", down()),
            ],
        };
        let r = if_master_died(&topo, &crate::config::from_text(CONF), 0);
        assert!(!r.ready);
        assert_eq!(
            r.refusal.as_deref(),
            Some("no replica of the dead master is reachable")
        );
    }

    #[test]
    fn lag_bytes_spans_binlog_files() {
        let logs = vec![
            ("bin.000001".to_string(), 1000),
            ("bin.000002".to_string(), 2000),
            ("bin.000003".to_string(), 500),
        ];
        let p = |f: &str, n| BinlogPos::new(f, n);
        let cases = [
            (p("bin.000003", 400), p("bin.000003", 100), Some(300)),
            (p("bin.000003", 400), p("bin.000003", 400), Some(0)),
            (
                p("bin.000003", 400),
                p("bin.000001", 900),
                Some(100 + 2000 + 400),
            ),
            (p("bin.000003", 400), p("bin.000002", 2000), Some(400)),
            (p("bin.000003", 400), p("bin.000000", 10), None),
            (p("bin.000002", 10), p("bin.000003", 4), Some(0)),
        ];
        for (master, executed, want) in cases {
            assert_eq!(lag_bytes(&logs, &master, &executed), want, "{executed}");
        }
    }

    #[test]
    fn heard_age_is_the_most_recent_sign_of_life() {
        assert_eq!(heard_age(Some(30.0), Some(5.0)), Some(5.0));
        assert_eq!(heard_age(Some(1.0), Some(5.0)), Some(1.0));
        assert_eq!(heard_age(None, Some(5.0)), Some(5.0));
        assert_eq!(heard_age(Some(2.0), None), Some(2.0));
        assert_eq!(heard_age(None, None), None);
    }
}
