//! Several managers, each on a host of its own (a network namespace), coordinated through a
//! three-member etcd cluster whose members have hosts of their own as well. A lane is nine
//! hosts on one bridge: the servers on 198.18.0.11-13, the managers on .14-.16, the etcd
//! members on .17-.19 (a second lane: .20-.28). A manager is cut off from etcd by blackhole
//! routes in its namespace (it still reaches every server); an etcd member is cut off by
//! pulling its cable.
//!
//! The tests: a leader cut off from etcd stops acting while another takes over and is the only
//! one to fail over; the master crashes while the leadership changes hands (the leader killed,
//! or cut off, at the same moment): exactly one failover; a failover whose manager dies half
//! way is run again only when nothing was changed yet; and 20 seeded random schedules of
//! manager kills, cut-offs, etcd member partitions and a master crash: never two failovers,
//! every acknowledged write kept. `MHA_CHAOS_SEEDS=a..b` runs other seeds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon, Network};
use crate::etcd::{LEADS, MONITORING, TTL};

const SERVERS: usize = 3;
const MANAGERS: usize = 3;
const MEMBERS: usize = 3;

/// One etcd member in its namespace; killed by pid when dropped.
struct Member {
    child: Child,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hosts in namespaces: one or more lanes, each with its servers, managers and etcd
/// members (9 hosts). The members go before the network (fields drop in order).
struct Net {
    _members: Vec<Member>,
    net: Network,
    _dir: tempfile::TempDir,
}

/// Hosts per lane.
const LANE: usize = SERVERS + MANAGERS + MEMBERS;

impl Net {
    fn start(lanes: usize) -> Net {
        assert!(bed::can_use_netns(), "network namespace tests need root");
        let net = Network::new(LANE * lanes);
        let dir = tempfile::Builder::new()
            .prefix("mha-it-etcd3-")
            .tempdir()
            .unwrap();
        let mut members = vec![];
        for k in 0..lanes {
            let lane = Hosts {
                net: &net,
                base: k * LANE,
            };
            let cluster: Vec<String> = (0..MEMBERS)
                .map(|j| format!("e{j}=http://{}:2380", lane.member_ip(j)))
                .collect();
            for j in 0..MEMBERS {
                members.push(start_member(&lane, dir.path(), j, &cluster.join(",")));
            }
        }
        let start = Instant::now();
        for k in 0..lanes {
            let lane = Hosts {
                net: &net,
                base: k * LANE,
            };
            while !(0..MEMBERS).all(|j| healthy(&lane.member_ip(j))) {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "etcd cluster not healthy"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Net {
            _members: members,
            net,
            _dir: dir,
        }
    }

    fn lane(&self, k: usize) -> Hosts<'_> {
        Hosts {
            net: &self.net,
            base: k * LANE,
        }
    }
}

/// One lane's hosts: the servers on its first three, then the managers, then etcd members.
struct Hosts<'a> {
    net: &'a Network,
    base: usize,
}

impl Hosts<'_> {
    fn ip(&self, k: usize) -> String {
        format!("198.18.0.{}", 11 + self.base + k)
    }

    fn member_ip(&self, j: usize) -> String {
        self.ip(SERVERS + MANAGERS + j)
    }

    fn member_ips(&self) -> Vec<String> {
        (0..MEMBERS).map(|j| self.member_ip(j)).collect()
    }

    fn manager_ns(&self, i: usize) -> String {
        self.net.hosts[self.base + SERVERS + i].netns.clone()
    }

    fn servers(&self) -> Vec<mha::sandbox::NodeHost> {
        self.net.hosts[self.base..self.base + SERVERS].to_vec()
    }

    fn endpoints(&self) -> String {
        (0..MEMBERS)
            .map(|j| format!("http://{}:2379", self.member_ip(j)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Cut manager `i` off from every etcd member (or heal it): it still reaches the servers.
    fn cut_manager(&self, i: usize, cut: bool) {
        for j in 0..MEMBERS {
            let verb = if cut { "add" } else { "del" };
            let route = format!("{}/32", self.member_ip(j));
            let ns = self.manager_ns(i);
            let args = [
                "netns",
                "exec",
                &ns,
                "ip",
                "route",
                verb,
                "blackhole",
                &route,
            ];
            if cut {
                bed::ip_ok(&args);
            } else {
                let _ = Command::new("ip").args(args).output();
            }
        }
    }

    /// Pull (or plug back) etcd member `j`'s cable.
    fn cut_member(&self, j: usize, cut: bool) {
        let i = self.base + SERVERS + MANAGERS + j;
        if cut {
            self.net.unplug(i);
        } else {
            self.net.plug(i);
        }
    }
}

fn start_member(lane: &Hosts, dir: &std::path::Path, j: usize, cluster: &str) -> Member {
    let ip = lane.member_ip(j);
    let name = format!("e{}-{j}", lane.base / LANE);
    let url = |p: u16| format!("http://{ip}:{p}");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lane.net.hosts[lane.base + SERVERS + MANAGERS + j].netns,
        ])
        .args(["etcd", "--name", &format!("e{j}"), "--data-dir"])
        .arg(dir.join(&name))
        .args(["--listen-client-urls", &url(2379)])
        .args(["--advertise-client-urls", &url(2379)])
        .args(["--listen-peer-urls", &url(2380)])
        .args(["--initial-advertise-peer-urls", &url(2380)])
        .args(["--initial-cluster", cluster])
        .args(["--initial-cluster-token", "mha-it"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("etcd is not installed (Debian: apt-get install etcd-server)");
    Member { child }
}

/// One HTTP/1.0 exchange with an etcd member's gateway: the body, if it answered 200.
fn http(ip: &str, method: &str, path: &str, body: &str) -> Option<String> {
    let addr = format!("{ip}:2379").parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let ok = head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200");
    ok.then(|| body.to_string())
}

fn healthy(ip: &str) -> bool {
    http(ip, "GET", "/health", "").is_some_and(|b| b.contains("\"true\""))
}

/// The value of `key`, asked of any of `members` that answers.
fn etcd_get(members: &[String], key: &str) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = format!("{{\"key\":\"{}\"}}", b64.encode(key));
    members.iter().find_map(|ip| {
        let r = http(ip, "POST", "/v3/kv/range", &body)?;
        let v: serde_json::Value = serde_json::from_str(&r).ok()?;
        let value = v["kvs"][0]["value"].as_str()?;
        Some(String::from_utf8_lossy(&b64.decode(value).ok()?).into_owned())
    })
}

/// The managers of one application, each in its namespace; a killed one can be started again
/// (a new log file each time).
struct Managers {
    /// The application's etcd_prefix: one per set-up, so that keys left by an earlier one
    /// (a lease not yet expired, its last failover) are not this one's.
    prefix: String,
    /// The lane's etcd members and the managers' namespaces.
    members: Vec<String>,
    namespaces: Vec<String>,
    conf: PathBuf,
    dir: PathBuf,
    daemons: Vec<Option<Daemon>>,
    /// Every log file written, for the counts at the end.
    logs: Vec<PathBuf>,
}

impl Managers {
    fn start(c: &Cluster, hosts: &Hosts<'_>, n: usize) -> Managers {
        static SET_UPS: AtomicU64 = AtomicU64::new(0);
        let prefix = format!("/mha-{}", SET_UPS.fetch_add(1, Ordering::SeqCst));
        let conf = crate::etcd::conf_at(c, "app1.toml", &hosts.endpoints());
        let text = std::fs::read_to_string(&conf).unwrap().replacen(
            "etcd_endpoints",
            &format!("etcd_prefix = \"{prefix}\"\netcd_endpoints"),
            1,
        );
        std::fs::write(&conf, text).unwrap();
        let mut m = Managers {
            prefix,
            members: hosts.member_ips(),
            namespaces: (0..n).map(|i| hosts.manager_ns(i)).collect(),
            conf,
            dir: c.dir.path().to_path_buf(),
            daemons: (0..n).map(|_| None).collect(),
            logs: vec![],
        };
        (0..n).for_each(|i| m.start_one(i));
        m
    }

    fn start_one(&mut self, i: usize) {
        if self.daemons[i].as_mut().is_some_and(|d| d.running()) {
            return;
        }
        let log = self
            .dir
            .join(format!("manager-{i}-{}.log", self.logs.len()));
        let workdir = self.dir.join(format!("work-{i}"));
        let args = [
            "manager",
            "--conf",
            self.conf.to_str().unwrap(),
            "--manager_workdir",
            workdir.to_str().unwrap(),
            "--last_failover_minute=0",
        ];
        self.logs.push(log.clone());
        self.daemons[i] = Some(Daemon::start_in(&self.namespaces[i], &args, log));
    }

    fn kill(&mut self, i: usize) {
        if let Some(d) = self.daemons[i].as_mut() {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
    }

    fn daemon(&self, i: usize) -> &Daemon {
        self.daemons[i].as_ref().unwrap()
    }

    /// The manager that leads now, by the pid in the leader key.
    fn leader(&self) -> Option<usize> {
        let value = etcd_get(&self.members, &format!("{}/app1/leader", self.prefix))?;
        let pid: u32 = value.rsplit(':').next()?.parse().ok()?;
        self.daemons
            .iter()
            .position(|d| d.as_ref().is_some_and(|d| d.pid() == pid))
    }

    /// Wait for a leader other than `not`.
    async fn wait_leader(&self, not: Option<usize>, timeout: Duration) -> usize {
        let start = Instant::now();
        loop {
            if let Some(i) = self.leader().filter(|&i| Some(i) != not) {
                return i;
            }
            assert!(start.elapsed() < timeout, "no leader:\n{}", self.all_logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn all_logs(&self) -> String {
        self.logs
            .iter()
            .map(|l| {
                format!(
                    "---- {} ----\n{}",
                    l.display(),
                    std::fs::read_to_string(l).unwrap_or_default()
                )
            })
            .collect()
    }

    fn count(&self, text: &str) -> usize {
        self.logs
            .iter()
            .map(|l| {
                std::fs::read_to_string(l)
                    .unwrap_or_default()
                    .matches(text)
                    .count()
            })
            .sum()
    }
}

const PROMOTED: &str = "Phase 3.4: New Master Recovery Phase..";
const COMPLETED: &str = "completed successfully";

/// A cluster in the servers' namespaces with the acked table, the managers started, one
/// leading and monitoring, the others standing by, and a write load on the master.
async fn set_up(hosts: &Hosts<'_>, managers: usize) -> (Cluster, Managers, bed::Writer) {
    let c = Cluster::start_on(2, Mode::Gtid, hosts.servers()).await;
    c.create_acked_table().await;
    c.wait_acked_table("server3", Duration::from_secs(10)).await;
    let m = Managers::start(&c, hosts, managers);
    let leader = m.wait_leader(None, Duration::from_secs(20)).await;
    m.daemon(leader)
        .expect_nth(MONITORING, 1, Duration::from_secs(30))
        .await;
    for i in (0..managers).filter(|&i| i != leader) {
        m.daemon(i)
            .expect_nth("Standing by", 1, Duration::from_secs(10))
            .await;
    }
    let w = c.writer("server1");
    w.wait_acked(20, Duration::from_secs(30)).await;
    (c, m, w)
}

/// The survivor that was promoted: the one of server2, server3 with read_only=0.
async fn promoted(c: &Cluster) -> Vec<&'static str> {
    let mut out = vec![];
    for n in ["server2", "server3"] {
        if c.value(n, "SELECT @@read_only").await.as_deref() == Some("0") {
            out.push(n);
        }
    }
    out
}

/// Every acknowledged row reaches `node` within `timeout`.
async fn wait_has_all(c: &Cluster, node: &str, acked: &[u64], timeout: Duration) {
    let want = acked.len().to_string();
    let ids = acked
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let count = format!("SELECT COUNT(*) FROM mha_it.acked WHERE id IN ({ids})");
    if !acked.is_empty() {
        c.wait_value(node, &count, &want, timeout).await;
    }
    c.assert_has_all(node, acked).await;
}

/// Exactly one failover happened, by manager `by` (if given), and every acknowledged write is
/// on the new master and the other survivor.
async fn one_failover(c: &Cluster, m: &Managers, acked: &[u64]) -> &'static str {
    let logs = m.all_logs();
    assert_eq!(m.count(PROMOTED), 1, "{logs}");
    assert_eq!(m.count(COMPLETED), 1, "{logs}");
    let new = promoted(c).await;
    assert_eq!(new.len(), 1, "writable survivors {new:?}\n{logs}");
    for n in ["server2", "server3"] {
        wait_has_all(c, n, acked, Duration::from_secs(20)).await;
    }
    new[0]
}

/// What a manager reports when the failover it would run was left unfinished (or failed) by
/// another: the refusal names the etcd record.
const REPORTED: [&str; 2] = ["never finished", "(failover failed by"];

/// Wait until a failover completed or one left unfinished was reported.
async fn settle(m: &Managers, timeout: Duration) -> bool {
    let start = Instant::now();
    while m.count(COMPLETED) == 0 && REPORTED.iter().all(|r| m.count(r) == 0) {
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_by_its_network_namespace_stops_acting_and_another_fails_over() {
    let net = Net::start(1);
    let hosts = net.lane(0);
    let (c, m, w) = set_up(&hosts, 3).await;
    let a = m.leader().unwrap();
    hosts.cut_manager(a, true);
    let cut = Instant::now();
    m.daemon(a)
        .expect_nth("no longer leads", 1, Duration::from_secs(TTL + 2))
        .await;
    let stepped_down = cut.elapsed();
    let b = m.wait_leader(Some(a), Duration::from_secs(TTL + 5)).await;
    let took_over = cut.elapsed();
    eprintln!("cut off: stepped down after {stepped_down:?}, {b} leads after {took_over:?}");
    assert!(stepped_down < Duration::from_secs(TTL + 1));
    assert_ne!(a, b);
    m.daemon(b)
        .expect_nth(MONITORING, 1, Duration::from_secs(20))
        .await;

    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    m.daemon(b)
        .expect_failovers(1, Duration::from_secs(40))
        .await;
    let acked = w.stop().await;
    // The cut-off manager saw the master die, and did nothing about it.
    m.daemon(a)
        .expect_nth("does NOT answer", 1, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    one_failover(&c, &m, &acked).await;
    let out = m.daemon(a).output();
    assert!(
        !out.contains("Phase 1:"),
        "the cut-off manager acted:\n{out}"
    );
    hosts.cut_manager(a, false);
}

/// The master and the leader go at the same moment (the leader killed, then cut off): another
/// manager leads within the TTL + 1 s, finds the master dead at take-over and fails it over,
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_crashes_while_the_leadership_changes_hands() {
    let net = Net::start(1);
    let hosts = net.lane(0);
    for cut in [false, true] {
        let (c, mut m, w) = set_up(&hosts, 2).await;
        let a = m.leader().unwrap();
        if cut {
            hosts.cut_manager(a, true);
        } else {
            m.kill(a);
        }
        sandbox::fault(c.dir.path(), "server1", Fault::Crash)
            .await
            .unwrap();
        let gone = Instant::now();
        let b = 1 - a;
        m.daemon(b)
            .expect_nth(LEADS, 1, Duration::from_secs(TTL + 5))
            .await;
        let took = gone.elapsed();
        eprintln!(
            "{} leader: another leads after {took:?}",
            if cut { "cut-off" } else { "killed" }
        );
        assert!(took < Duration::from_secs(TTL + 1), "took {took:?}");
        m.daemon(b)
            .expect_failovers(1, Duration::from_secs(40))
            .await;
        let acked = w.stop().await;
        tokio::time::sleep(Duration::from_secs(TTL)).await;
        one_failover(&c, &m, &acked).await;
        let out = m.daemon(b).output();
        assert!(
            out.contains("does not answer now that this manager leads"),
            "{out}"
        );
        if cut {
            let out = m.daemon(a).output();
            assert!(!out.contains(PROMOTED), "{out}");
            hosts.cut_manager(a, false);
        }
    }
}

/// splitmix64: a seeded sequence, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn ms(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

/// Which manager an event hits: a fixed one, or whichever leads when it happens.
#[derive(Debug, Clone, Copy)]
enum Who {
    Manager(usize),
    Leader,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Kill(Who),
    Restart,
    Cut(Who),
    HealManagers,
    CutMember(usize),
    PlugMember(usize),
    CrashMaster,
}

/// Seed → the number of managers and the timed events: 2-4 faults over 5 s, each undone
/// 0.5-4 s later, and the master's crash somewhere among them, in half the schedules with
/// the leader killed or cut off right after it.
fn schedule(seed: u64) -> (usize, Vec<(Duration, Act)>) {
    let mut r = Rng(seed);
    let managers = 2 + r.below(2) as usize;
    let crash = r.ms(300, 5000);
    let mut events = vec![(crash, Act::CrashMaster)];
    // Half the schedules also hit the leader just as it fails over (it detects a crash in
    // tens of milliseconds and is done in about a hundred more).
    if r.below(2) == 0 {
        let at = crash + r.ms(0, 150);
        let undo = at + r.ms(500, 3000);
        events.extend(match r.below(2) {
            0 => [(at, Act::Kill(Who::Leader)), (undo, Act::Restart)],
            _ => [(at, Act::Cut(Who::Leader)), (undo, Act::HealManagers)],
        });
    }
    for _ in 0..2 + r.below(3) {
        let at = r.ms(0, 5000);
        let undo = at + r.ms(500, 4000);
        let who = match r.below(3) {
            0 => Who::Manager(r.below(managers as u64) as usize),
            _ => Who::Leader,
        };
        match r.below(3) {
            0 => events.extend([(at, Act::Kill(who)), (undo, Act::Restart)]),
            1 => events.extend([(at, Act::Cut(who)), (undo, Act::HealManagers)]),
            _ => {
                let j = r.below(MEMBERS as u64) as usize;
                events.extend([(at, Act::CutMember(j)), (undo, Act::PlugMember(j))]);
            }
        }
    }
    events.sort_by_key(|e| e.0);
    (managers, events)
}

/// What a schedule ended with.
#[derive(Debug)]
enum Ending {
    FailedOver(&'static str),
    /// An interrupted failover, reported and left for an operator (acked rows: on the old master).
    Reported,
}

async fn apply(act: Act, hosts: &Hosts<'_>, c: &Cluster, m: &mut Managers, cut: &mut Vec<usize>) {
    let resolve = |who: Who, m: &Managers| match who {
        Who::Manager(i) => Some(i),
        Who::Leader => m.leader(),
    };
    match act {
        Act::Kill(who) => {
            if let Some(i) = resolve(who, m) {
                m.kill(i);
            }
        }
        Act::Restart => (0..m.daemons.len()).for_each(|i| m.start_one(i)),
        Act::Cut(who) => {
            if let Some(i) = resolve(who, m).filter(|i| !cut.contains(i)) {
                hosts.cut_manager(i, true);
                cut.push(i);
            }
        }
        Act::HealManagers => cut.drain(..).for_each(|i| hosts.cut_manager(i, false)),
        Act::CutMember(j) => hosts.cut_member(j, true),
        Act::PlugMember(j) => hosts.cut_member(j, false),
        Act::CrashMaster => sandbox::fault(c.dir.path(), "server1", Fault::Crash)
            .await
            .unwrap(),
    }
}

async fn run_schedule(hosts: &Hosts<'_>, seed: u64) -> Ending {
    let (n, events) = schedule(seed);
    eprintln!("seed {seed}: {n} managers, {events:?}");
    let (c, mut m, w) = set_up(hosts, n).await;
    let t0 = tokio::time::Instant::now();
    let mut cut = vec![];
    for (at, act) in events {
        tokio::time::sleep_until(t0 + at).await;
        apply(act, hosts, &c, &mut m, &mut cut).await;
    }
    apply(Act::HealManagers, hosts, &c, &mut m, &mut cut).await;
    (0..MEMBERS).for_each(|j| hosts.cut_member(j, false));
    apply(Act::Restart, hosts, &c, &mut m, &mut cut).await;
    let settled = settle(&m, Duration::from_secs(45)).await;
    assert!(settled, "seed {seed}: nothing settled\n{}", m.all_logs());
    // Time for a second failover, were one to come.
    tokio::time::sleep(Duration::from_secs(TTL)).await;
    let acked = w.stop().await;
    if m.count(COMPLETED) > 0 {
        return Ending::FailedOver(one_failover(&c, &m, &acked).await);
    }
    assert!(m.count(PROMOTED) <= 1, "seed {seed}\n{}", m.all_logs());
    sandbox::fault(c.dir.path(), "server1", Fault::Start)
        .await
        .unwrap();
    wait_has_all(&c, "server1", &acked, Duration::from_secs(20)).await;
    Ending::Reported
}

fn seeds() -> std::ops::Range<u64> {
    std::env::var("MHA_CHAOS_SEEDS")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse().ok()?..b.parse().ok()?)
        })
        .unwrap_or(1..21)
}

/// Schedules run on two lanes at once (each its own servers, managers and etcd): most of a
/// schedule is waiting, not work.
const LANES: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_schedules_of_kills_partitions_and_a_crash_never_fail_over_twice() {
    let net = Net::start(LANES);
    let queue = std::sync::Mutex::new(seeds().collect::<std::collections::VecDeque<u64>>());
    let results = std::sync::Mutex::new(vec![]);
    let lane = |k: usize| {
        let (net, queue, results) = (&net, &queue, &results);
        async move {
            let hosts = net.lane(k);
            loop {
                let Some(seed) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                let started = Instant::now();
                let ending = run_schedule(&hosts, seed).await;
                eprintln!(
                    "seed {seed} (lane {k}): {ending:?} in {:?}",
                    started.elapsed()
                );
                results.lock().unwrap().push((seed, ending));
            }
        }
    };
    tokio::join!(lane(0), lane(1));
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    assert_eq!(results.len(), seeds().count());
    let endings: Vec<Ending> = results.into_iter().map(|r| r.1).collect();
    let promoted: Vec<&str> = endings
        .iter()
        .filter_map(|e| match e {
            Ending::FailedOver(to) => Some(*to),
            Ending::Reported => None,
        })
        .collect();
    let failed_over = promoted.len();
    eprintln!("promoted: {promoted:?}");
    eprintln!(
        "{failed_over} of {} schedules failed over once; the others reported an interrupted failover",
        endings.len()
    );
}

/// A failover whose manager is killed half way, held in a hook (`master_ip_failover_script`
/// waits while a flag file exists): stopped in phase 2, before any surviving server was
/// changed, the next leader runs it again and completes it; stopped in phase 5, after the new
/// master was promoted, the next leader reports it and does nothing (FAILOVER_ERROR) until an
/// operator deletes the record. Either way one promotion, and the acknowledged rows on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_interrupted_by_its_managers_death_is_run_again_only_when_nothing_changed() {
    for (command, phase, resumed) in [("stop", "2", true), ("start", "4", false)] {
        let etcd = crate::etcd::EtcdServer::start();
        let c = Cluster::start(2, Mode::Gtid).await;
        let flag = c.dir.path().join("hold");
        let waiting = c.dir.path().join("waiting");
        let hook = c.dir.path().join("vip.sh");
        bed::script(
            &hook,
            &format!(
                "case \"$*\" in *--command={command}*) while [ -e {f} ]; do touch {w}; sleep 0.1; done;; esac\nexit 0\n",
                f = flag.display(),
                w = waiting.display()
            ),
        );
        c.add_app_settings(&format!(
            "master_ip_failover_script = \"{}\"\n",
            hook.display()
        ));
        let conf = crate::etcd::conf(&c, "app1.toml", etcd.client_port);
        let mut a = crate::etcd::manager(&c, &conf, "a");
        a.expect_nth(MONITORING, 1, Duration::from_secs(30)).await;
        let b = crate::etcd::manager(&c, &conf, "b");
        b.expect_nth("Standing by", 1, Duration::from_secs(10))
            .await;
        c.create_acked_table().await;
        c.wait_acked_table("server3", Duration::from_secs(10)).await;
        let w = c.writer("server1");
        w.wait_acked(30, Duration::from_secs(30)).await;
        std::fs::write(&flag, "").unwrap();
        sandbox::fault(c.dir.path(), "server1", Fault::Crash)
            .await
            .unwrap();
        let start = Instant::now();
        while !waiting.exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "{}", a.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = a.child.kill();
        let _ = a.child.wait();
        std::fs::remove_file(&flag).unwrap();
        let acked = w.stop().await;
        b.expect_nth(LEADS, 1, Duration::from_secs(TTL + 5)).await;
        let said = format!("last phase started: {phase}");
        b.expect_nth(&said, 1, Duration::from_secs(10)).await;
        let all = || format!("{}{}", a.output(), b.output());
        if resumed {
            b.expect_nth("runs it again", 1, Duration::from_secs(1))
                .await;
            b.expect_failovers(1, Duration::from_secs(40)).await;
        } else {
            b.expect_nth("never finished", 1, Duration::from_secs(1))
                .await;
            tokio::time::sleep(Duration::from_secs(TTL)).await;
            let workdir = c.dir.path().join("work-b");
            let (code, out) =
                bed::check_status(&conf, &["--manager_workdir", workdir.to_str().unwrap()]);
            assert!(out.contains("FAILOVER_ERROR"), "{code} {out}\n{}", all());
            assert!(!b.output().contains("Phase 1:"), "{}", all());
        }
        assert_eq!(all().matches(PROMOTED).count(), 1, "{}", all());
        let new = promoted(&c).await;
        assert_eq!(new, ["server2"], "{}", all());
        wait_has_all(&c, "server2", &acked, Duration::from_secs(20)).await;
    }
}
