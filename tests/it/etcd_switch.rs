//! `master_switch` for an application coordinated through a real etcd: it refuses while a
//! manager leads (naming it) and changes nothing; with no manager running it takes the
//! leadership, so that a manager started meanwhile only stands by, and gives it up at the
//! end; etcd lost midway rolls the switch back; a manual failover is recorded in
//! `PREFIX/APP/last_failover` as a manager's is; and an unreachable etcd refuses before
//! anything is touched.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use mha::sandbox::Mode;

use crate::bed::{self, Cluster};
use crate::etcd::{self, EtcdServer, LEADS, MONITORING, TTL};

const T: Duration = Duration::from_secs(30);

/// The key `key` in the etcd of `conf`, through mha's own client.
async fn etcd_get(conf: &Path, key: &str) -> Option<String> {
    let loaded = mha::config::load(conf, &mha::config::GlobalConf::Default).unwrap();
    let settings = loaded.config.app.etcd.expect("etcd_endpoints");
    let client = mha::etcd::Etcd::new(&settings, Duration::from_secs(5));
    client.get(key).await.unwrap().map(|kv| kv.value)
}

fn text(out: &Output) -> String {
    let (o, e) = bed::text(out);
    format!("{o}\n{e}")
}

async fn read_only(c: &Cluster, node: &str) -> String {
    c.value(node, "SELECT @@global.read_only")
        .await
        .unwrap_or_default()
}

/// A manager leads: master_switch (online, dead, dry run) names it and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_while_a_manager_leads_is_refused_naming_it() {
    let etcd = EtcdServer::start();
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = etcd::conf(&c, "app1.toml", etcd.client_port);
    let m = etcd::manager(&c, &conf, "a");
    m.expect_nth(MONITORING, 1, T).await;
    let holder = format!(":{}", m.pid());
    let port2 = c.node("server2").port;

    let out = bed::switch_alive_command(&conf, port2).output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("/mha/app1/leader is held by"), "{all}");
    assert!(all.contains(&holder), "names the leader: {all}");
    assert!(all.contains("mha stop --conf"), "{all}");
    assert!(
        all.contains("Switch refused: nothing was changed."),
        "{all}"
    );

    let out = bed::switch_dead_command(&conf, &c, "server1")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(&holder), "{all}");
    assert!(
        all.contains("Failover refused: nothing was changed."),
        "{all}"
    );

    // A dry run reports who leads and changes nothing either.
    let out = bed::switch_alive_command(&conf, port2)
        .arg("--dry-run")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("is held by") && all.contains(&holder), "{all}");

    assert_eq!(read_only(&c, "server1").await, "0");
    assert_eq!(read_only(&c, "server2").await, "1");
    c.wait_replicating_from("server2", "server1", T).await;
    c.wait_replicating_from("server3", "server1", T).await;
    let leader = etcd_get(&conf, "/mha/app1/leader").await.unwrap();
    assert!(leader.ends_with(&holder), "{leader}");
    assert_eq!(etcd_get(&conf, "/mha/app1/last_failover").await, None);
    assert_eq!(etcd::status(&c, &conf, "a"), 0, "{}", m.output());
    assert!(!m.output().contains("no longer leads"), "{}", m.output());
}

/// An online switch to server2 (with `extra`) run in the background, held in its stop hook
/// (phase 2, writes not blocked yet) until `go` is called.
struct HeldSwitch {
    child: Option<std::process::Child>,
    log: std::path::PathBuf,
    go: std::path::PathBuf,
}

impl HeldSwitch {
    /// The hook, set in the sandbox's configuration: call before `etcd::conf`.
    fn hook(c: &Cluster) {
        let hook = c.dir.path().join("online_change.sh");
        bed::script(
            &hook,
            &format!(
                "case \"$*\" in *--command=stop*)\n touch {d}/in_hook\n i=0\n while [ ! -f {d}/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done;;\nesac\nexit 0\n",
                d = c.dir.path().display()
            ),
        );
        c.add_app_settings(&format!(
            "master_ip_online_change_script = \"{}\"\n",
            hook.display()
        ));
    }

    /// Started, and returned once it is in the stop hook.
    async fn start(c: &Cluster, conf: &Path, extra: &[&str]) -> HeldSwitch {
        let log = c.dir.path().join("switch.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = bed::switch_alive_command(conf, c.node("server2").port)
            .args(extra)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let s = HeldSwitch {
            child: Some(child),
            log,
            go: c.dir.path().join("go"),
        };
        let start = Instant::now();
        while !c.dir.path().join("in_hook").exists() {
            assert!(
                start.elapsed() < T,
                "the stop hook never ran:\n{}",
                s.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or_default()
    }

    /// Let it go on; its exit code and output once it ends.
    async fn go(mut self) -> (Option<i32>, String) {
        std::fs::write(&self.go, "").unwrap();
        let mut child = self.child.take().unwrap();
        let code = tokio::task::spawn_blocking(move || child.wait().unwrap().code())
            .await
            .unwrap();
        (code, self.output())
    }
}

impl Drop for HeldSwitch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("---- master_switch ----\n{}", self.output());
        }
    }
}

/// etcd, a cluster whose online-change hook holds a switch, its configuration with etcd, and
/// an application writing to the master.
async fn held_switch_under_load() -> (EtcdServer, Cluster, PathBuf, bed::Writer) {
    let etcd = EtcdServer::start();
    let c = Cluster::start(2, Mode::Gtid).await;
    HeldSwitch::hook(&c);
    let conf = etcd::conf(&c, "app1.toml", etcd.client_port);
    c.create_acked_table().await;
    c.wait_acked_table("server2", T).await;
    let w = crate::switchover::app_writer(&c, "server1").await;
    w.wait_acked(20, T).await;
    (etcd, c, conf, w)
}

/// No manager runs: the switch leads while it runs (a manager started meanwhile stands by),
/// switches under load, and gives the leadership up at once when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_switch_holds_the_leadership_and_a_manager_started_meanwhile_stands_by() {
    let (_etcd, c, conf, w) = held_switch_under_load().await;

    let switch = HeldSwitch::start(&c, &conf, &["--orig_master_is_new_slave"]).await;
    let holder = etcd_get(&conf, "/mha/app1/leader").await.unwrap();
    assert!(holder.ends_with(&format!(":{}", switch.pid())), "{holder}");

    let m = etcd::manager(&c, &conf, "b");
    m.expect_nth("Standing by", 1, Duration::from_secs(10))
        .await;
    assert_eq!(etcd::status(&c, &conf, "b"), 40, "{}", m.output());
    let (code, out) = switch.go().await;
    let ended = Instant::now();
    let acked = w.stop().await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("given up (lease revoked)"), "{out}");
    // Revoked, not left to expire: the standby leads well within the TTL.
    m.expect_nth(LEADS, 1, Duration::from_secs(TTL + 5)).await;
    let took = ended.elapsed();
    eprintln!("a standby leads {took:?} after the switch ended (TTL {TTL} s)");
    assert!(took < Duration::from_secs(TTL - 1), "took {took:?}");
    assert!(!m.output().contains("Phase 2:"), "{}", m.output());

    assert_eq!(read_only(&c, "server2").await, "0");
    assert_eq!(read_only(&c, "server1").await, "1");
    c.wait_replicating_from("server1", "server2", T).await;
    c.wait_replicating_from("server3", "server2", T).await;
    for n in ["server1", "server2", "server3"] {
        c.assert_has_all(n, &acked).await;
    }
    // An online switch is no failover: no block period starts.
    assert_eq!(etcd_get(&conf, "/mha/app1/last_failover").await, None);
    // The manager that leads now monitors the new master.
    let port2 = c.node("server2").port;
    m.expect_nth(&format!("master=127.0.0.1(127.0.0.1:{port2})"), 1, T)
        .await;
}

/// No manager runs and the master crashed under load: `--master_state=dead` fails over,
/// records it in etcd as a manager does, and leaves the leadership free; the manager that
/// leads afterwards monitors without the replaced master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_failover_records_the_last_failover_in_etcd() {
    let etcd = EtcdServer::start();
    let c = Cluster::start(2, Mode::Gtid).await;
    let conf = etcd::conf(&c, "app1.toml", etcd.client_port);
    let w = etcd::crash_under_load(&c).await;

    let out = bed::switch_dead_command(&conf, &c, "server1")
        .output()
        .unwrap();
    let all = text(&out);
    let acked = w.stop().await;
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("leads now"), "{all}");
    // Given up at the end: the key is gone before its TTL could have run out.
    assert_eq!(etcd_get(&conf, "/mha/app1/leader").await, None, "{all}");
    let last = etcd_get(&conf, "/mha/app1/last_failover")
        .await
        .expect("last_failover recorded");
    let last: serde_json::Value = serde_json::from_str(&last).unwrap();
    let dead = format!("127.0.0.1(127.0.0.1:{})", c.node("server1").port);
    assert_eq!(last["state"], "complete", "{last}");
    assert_eq!(last["dead_master"], dead.as_str(), "{last}");
    assert!(last["by"].as_str().unwrap().contains(':'), "{last}");
    assert_eq!(read_only(&c, "server2").await, "0");
    c.assert_has_all("server2", &acked).await;
    c.wait_replicating_from("server3", "server2", T).await;

    // From another host's workdir (no marker file there), the record in etcd alone refuses
    // a second failover within last_failover_minute.
    let elsewhere = c.dir.path().join("work-elsewhere");
    let out = bed::switch_dead_command(&conf, &c, "server1")
        .arg(format!("--manager_workdir={}", elsewhere.display()))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("etcd key /mha/app1/last_failover"), "{all}");
    assert!(
        all.contains("Failover refused: nothing was changed."),
        "{all}"
    );
    assert!(!all.contains("Phase 2:"), "{all}");
    assert_eq!(etcd_get(&conf, "/mha/app1/leader").await, None, "{all}");

    let m = etcd::manager(&c, &conf, "a");
    m.expect_nth(LEADS, 1, Duration::from_secs(10)).await;
    m.expect_nth("replaced 127.0.0.1", 1, Duration::from_secs(5))
        .await;
    let port2 = c.node("server2").port;
    m.expect_nth(&format!("master=127.0.0.1(127.0.0.1:{port2})"), 1, T)
        .await;
}

/// etcd does not answer: refused before anything is touched, naming the endpoint; no
/// server is needed to show it (none is configured to answer).
#[test]
fn an_unreachable_etcd_refuses_naming_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("app1.cnf");
    std::fs::write(
        &conf,
        format!(
            "[server default]\nuser=root\npassword=x\nrepl_password=x\nmanager_workdir={}\netcd_endpoints=http://127.0.0.1:{port}\n\n[server1]\nhostname=127.0.0.1\nport=1\n\n[server2]\nhostname=127.0.0.1\nport=2\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let endpoint = format!("etcd (http://127.0.0.1:{port})");
    let out = bed::switch_alive_command(&conf, 2).output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(&endpoint), "{all}");
    assert!(
        all.contains("Switch refused: nothing was changed."),
        "{all}"
    );
    let out = bed::run_mha(
        &bed::mha_bin(),
        &[
            "master_switch",
            "--master_state=dead",
            "--conf",
            conf.to_str().unwrap(),
            "--dead_master_host=127.0.0.1",
            "--dead_master_port=1",
            "--interactive=0",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(&endpoint), "{all}");
    assert!(
        all.contains("Failover refused: nothing was changed."),
        "{all}"
    );
    // Nothing was started: no status file, no record in the workdir.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "app1.cnf")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// etcd goes away while the switch holds the leadership (in its stop hook): the proof before
/// phase 3 fails, and the switch is rolled back instead of going on unfenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_loses_etcd_midway_is_rolled_back() {
    let (etcd, c, conf, w) = held_switch_under_load().await;

    let switch = HeldSwitch::start(&c, &conf, &[]).await;
    drop(etcd);
    let (code, out) = switch.go().await;
    let before = w.acked();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("leadership lost before phase 3"), "{out}");
    assert!(out.contains("Switch failed and was rolled back"), "{out}");
    assert!(
        !out.contains("Phase 3: Switching the master Phase.."),
        "{out}"
    );
    // The old master takes writes again, the replicas still follow it.
    w.wait_acked(before + 20, T).await;
    let acked = w.stop().await;
    assert_eq!(read_only(&c, "server1").await, "0");
    assert_eq!(read_only(&c, "server2").await, "1");
    c.wait_replicating_from("server2", "server1", T).await;
    c.wait_replicating_from("server3", "server1", T).await;
    c.assert_has_all("server1", &acked).await;
}
