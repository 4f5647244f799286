//! `mha purge_relay_logs` (MHA's node cron tool) on real replicas under a write load: the old
//! relay logs go while the SQL thread runs and no row is lost; it and a failover exclude each
//! other through MHA's failover lock.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster};

const T: Duration = Duration::from_secs(30);
const LOCK: &str = "MHA_Master_High_Availability_Failover";

/// The relay logs (`relay-bin.N`) in `node`'s datadir.
fn relay_logs(c: &Cluster, node: &str) -> BTreeSet<String> {
    std::fs::read_dir(&c.node(node).datadir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("relay-bin.")
                .is_some_and(|s| s.parse::<u64>().is_ok())
        })
        .collect()
}

/// `purge_relay_logs` (the MHA name, a symlink to mha) for `node`, the password in MYSQL_PWD.
fn purge(c: &Cluster, node: &str, workdir: &Path, extra: &[&str]) -> Output {
    let link = c.dir.path().join("purge_relay_logs");
    if !link.exists() {
        std::os::unix::fs::symlink(bed::mha_bin(), &link).unwrap();
    }
    let t = c.state.admin_target(c.node(node)).unwrap();
    let host = (!extra.iter().any(|e| e.starts_with("--host"))).then_some("--host=127.0.0.1");
    Command::new(&link)
        .args(host)
        .args([
            &format!("--port={}", t.port),
            &format!("--user={}", t.user),
            &format!("--workdir={}", workdir.display()),
        ])
        .args(extra)
        .env("MYSQL_PWD", t.password.expose())
        .output()
        .unwrap()
}

fn workdir(c: &Cluster, name: &str) -> PathBuf {
    let w = c.dir.path().join(name);
    std::fs::create_dir_all(&w).unwrap();
    w
}

async fn checksum(c: &Cluster, node: &str) -> String {
    c.rows(node, "CHECKSUM TABLE mha_it.acked").await[0]["Checksum"]
        .clone()
        .unwrap_or_default()
}

async fn threads_running(c: &Cluster, node: &str) {
    let st = c.slave_status(node).await;
    for t in ["Slave_IO_Running", "Slave_SQL_Running"] {
        assert_eq!(st[t].as_deref(), Some("Yes"), "{node}: {st:?}");
    }
}

/// Bad input is refused with its option named and changes nothing; relay_log_purge=1 is left
/// alone without --disable_relay_log_purge; a held failover lock makes it give up (75).
async fn refusals(c: &Cluster, w: &Path) {
    let before = relay_logs(c, "server2");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--host=192.0.2.1"], 64, "--host 192.0.2.1"),
        (&["--use_hardlink=0"], 64, "--use_hardlink=0"),
    ];
    for (extra, code, want) in cases {
        let out = purge(c, "server2", w, extra);
        let (o, e) = bed::text(&out);
        assert_eq!(out.status.code(), Some(*code), "{extra:?}: {o}{e}");
        assert!(e.contains(want), "{extra:?}: {e}");
    }
    let missing = c.dir.path().join("no-such-dir");
    let out = purge(c, "server2", &missing, &[]);
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(64), "{o}{e}");
    assert!(e.contains("--workdir") && e.contains("no-such-dir"), "{e}");
    // A failover holds the lock: the purge waits --lock_wait, then gives up.
    let mut held = c.session("server2").await;
    held.rows("hold", &format!("SELECT GET_LOCK('{LOCK}', 0)"))
        .await
        .unwrap();
    let out = purge(c, "server2", w, &["--lock_wait=1"]);
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(75), "{o}{e}");
    assert!(e.contains("failover lock"), "{e}");
    held.disconnect().await;
    assert!(
        before.is_subset(&relay_logs(c, "server2")),
        "a refusal purged"
    );
    assert_eq!(std::fs::read_dir(w).unwrap().count(), 0, "links left");
    // relay_log_purge=1: nothing to do without --disable_relay_log_purge.
    c.exec("server3", "SET GLOBAL relay_log_purge = 1").await;
    let out = purge(c, "server3", w, &[]);
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert!(
        o.contains("relay_log_purge is enabled; nothing to do"),
        "{o}"
    );
    let on = c.value("server3", "SELECT @@global.relay_log_purge").await;
    assert_eq!(on.as_deref(), Some("1"));
}

/// Old relay logs of server2 (and of server3, with relay_log_purge=1 and
/// --disable_relay_log_purge) purged while writes replicate: the files are gone, the threads
/// run, relay_log_purge is 0, and the table is the master's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_relay_logs_removes_old_relay_logs_while_the_sql_thread_runs() {
    let c = Cluster::start(2, Mode::FilePos).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    let w = c.writer("server1");
    w.wait_acked(30, T).await;
    for n in 0..4 {
        for r in ["server2", "server3"] {
            c.exec(r, "FLUSH RELAY LOGS").await;
        }
        w.wait_acked(60 + 30 * n, T).await;
    }
    let (w2, w3) = (workdir(&c, "purge2"), workdir(&c, "purge3"));
    refusals(&c, &w2).await;
    for (node, dir, extra) in [
        ("server2", &w2, &[][..]),
        ("server3", &w3, &["--disable_relay_log_purge"][..]),
    ] {
        let before = relay_logs(&c, node);
        assert!(before.len() >= 4, "{node}: {before:?}");
        let acked_before = w.acked();
        let out = purge(&c, node, dir, extra);
        let (o, e) = bed::text(&out);
        assert_eq!(out.status.code(), Some(0), "{node}: {o}{e}");
        assert!(
            o.contains("All relay log purging operations succeeded."),
            "{o}"
        );
        // All but the newest, which the SQL thread was in (it goes on the next run).
        let after = relay_logs(&c, node);
        let newest = before.last().unwrap().clone();
        let old: BTreeSet<String> = before.into_iter().filter(|n| *n != newest).collect();
        assert!(
            old.is_disjoint(&after),
            "{node}: old relay logs left: {old:?}, after {after:?}\n{o}{e}"
        );
        assert!(!after.is_empty(), "{node}: no relay log at all");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "links left");
        let purge_var = c.value(node, "SELECT @@global.relay_log_purge").await;
        assert_eq!(purge_var.as_deref(), Some("0"), "{node}");
        threads_running(&c, node).await;
        // Writes went on meanwhile.
        w.wait_acked(acked_before + 20, T).await;
    }
    let acked = w.stop().await;
    let master = checksum(&c, "server1").await;
    for r in ["server2", "server3"] {
        let start = Instant::now();
        while checksum(&c, r).await != master {
            assert!(start.elapsed() < T, "{r} differs from the master");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        c.assert_has_all(r, &acked).await;
        threads_running(&c, r).await;
    }
}

/// A failover finds the failover lock held on a replica (as while purge_relay_logs flushes
/// there): it waits, changes nothing meanwhile, and goes on once the lock is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_waits_for_the_failover_lock_a_purge_holds() {
    let c = Cluster::start(2, Mode::FilePos).await;
    c.create_acked_table().await;
    for r in ["server2", "server3"] {
        c.wait_acked_table(r, T).await;
    }
    let w = c.writer("server1");
    w.wait_acked(50, T).await;
    let mut held = c.session("server3").await;
    held.rows("hold", &format!("SELECT GET_LOCK('{LOCK}', 0)"))
        .await
        .unwrap();
    sandbox::fault(c.dir.path(), "server1", Fault::Crash)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked = w.stop().await;
    let log = c.dir.path().join("failover.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = bed::switch_dead_command(&c.state.app_config(), &c, "server1")
        .stderr(Stdio::from(out.try_clone().unwrap()))
        .stdout(Stdio::from(out))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let waiting = "the failover lock is held (purge_relay_logs runs there?)";
    while !std::fs::read_to_string(&log).unwrap().contains(waiting) {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(started.elapsed() < T, "no wait for the lock:\n{text}");
        assert!(child.try_wait().unwrap().is_none(), "ended:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Still waiting, and nothing changed: the replicas still receive from the dead master.
    assert!(child.try_wait().unwrap().is_none());
    for r in ["server2", "server3"] {
        let st = c.slave_status(r).await;
        assert_ne!(st["Slave_IO_Running"].as_deref(), Some("No"), "{r}: {st:?}");
    }
    held.disconnect().await;
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("failover lock taken"), "{text}");
    c.wait_replicating_from("server3", "server2", T).await;
    for r in ["server2", "server3"] {
        c.assert_has_all(r, &acked).await;
    }
    assert_eq!(checksum(&c, "server2").await, checksum(&c, "server3").await);
}
