//! Real network cuts between hosts in network namespaces (198.18.0.0/24): the manager must not
//! declare the master dead when only its own path is cut, and must when the master's host
//! drops off the network (no SQL, no SSH, replicas hear nothing).

use std::time::Duration;

use mha::sandbox::Mode;

use crate::bed::{self, Cluster, Daemon, Network};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_in_network_namespaces() {
    assert!(bed::can_use_netns(), "network namespace tests need root");
    let net = Network::new(3);
    // The cluster (servers and their sshd) must go before the network does.
    let c = Cluster::start_on(2, Mode::Gtid, net.hosts.clone()).await;
    let conf = c.state.app_config();
    let conf_s = conf.to_str().unwrap();
    assert!(
        std::fs::read_to_string(&conf)
            .unwrap()
            .contains("hostname = \"198.18.0.11\"")
    );
    let out = bed::run_mha(&bed::mha_bin(), &["check_repl", "--conf", conf_s]);
    assert_eq!(out.status.code(), Some(0), "{}", bed::text(&out).0);

    // 1. Only the manager loses its path to the master: a blackhole route in the manager's
    //    namespace. Replicas (other namespaces, over the bridge) still receive from it.
    let mut m = Daemon::manager(
        &conf,
        &[],
        c.dir.path().join("manager1.log"),
        Duration::from_secs(20),
    );
    bed::ip_ok(&["route", "add", "blackhole", "198.18.0.11/32"]);
    assert!(
        m.wait_for("Connection failed 4 time(s)..", Duration::from_secs(15)),
        "{}",
        m.output()
    );
    assert!(
        m.wait_for(
            "is not declared dead: the master is reachable from another host",
            Duration::from_secs(15)
        ),
        "{}",
        m.output()
    );
    // The replicas' hosts logged in (a bare TCP probe would count against max_connect_errors).
    assert!(
        m.output()
            .contains("the server sent its handshake and the manager's user logged in"),
        "{}",
        m.output()
    );
    let out = m.output();
    assert!(!out.contains("Master is down!"), "{out}");
    bed::ip_ok(&["route", "del", "blackhole", "198.18.0.11/32"]);
    let s = bed::wait_status(&conf, 0, Duration::from_secs(15));
    assert!(s.contains("(0:PING_OK)"), "{s}");
    assert_eq!(
        m.wait_exit(Duration::from_millis(100)),
        None,
        "the manager keeps monitoring"
    );
    let out = bed::run_mha(&bed::mha_bin(), &["stop", "--conf", conf_s]);
    assert_eq!(bed::text(&out).0.trim(), "Stopped app1 successfully.");

    // 2. The master's host drops off the network: no SQL, no SSH, the replicas hear nothing.
    //    The manager fails over from the latest replica and reports what could not be saved.
    c.create_acked_table().await;
    let w = c.writer("server1");
    let mut m = Daemon::manager(
        &conf,
        &["--last_failover_minute=0"],
        c.dir.path().join("manager2.log"),
        Duration::from_secs(20),
    );
    w.wait_acked(20, Duration::from_secs(30)).await;
    net.unplug(0);
    let cut_at = std::time::Instant::now();
    assert!(
        m.wait_for("Master is down!", Duration::from_secs(30)),
        "{}",
        m.output()
    );
    eprintln!(
        "unreachable master host detected after {:?}",
        cut_at.elapsed()
    );
    let acked = w.stop().await;
    // The failover completes, but says what the cut host kept (exit 11's wording).
    assert!(
        m.wait_for("monitoring the new master", Duration::from_secs(60)),
        "{}",
        m.output()
    );
    assert!(
        m.output().contains("data was NOT recovered"),
        "{}",
        m.output()
    );
    let out = m.output();
    assert!(
        out.contains("SSH is NOT reachable") || out.contains("SSH: no answer after"),
        "{out}"
    );
    assert!(out.contains("'s host the master does not answer"), "{out}");
    assert!(
        out.contains("NOT recovered: events the dead master")
            && out.contains("its host is not reachable over SSH"),
        "{out}"
    );
    // Everything any replica had received survives; the new master takes writes.
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.wait_replicating_from("server3", "server2", Duration::from_secs(30))
        .await;
    let q = "SELECT COUNT(*) FROM mha_it.acked";
    let (on_new, on_other) = (
        c.value("server2", q).await.unwrap(),
        c.value("server3", q).await.unwrap(),
    );
    assert_eq!(on_new, on_other, "replicas end identical");
    eprintln!(
        "acknowledged {} rows before the cut; {on_new} survive (a cut host keeps what it never sent)",
        acked.len()
    );

    // 3. The same cut with semi-synchronous replication: a commit is acknowledged only once a
    //    replica has it, so no acknowledged write can stay behind on the cut host.
    assert!(
        m.wait_for(
            "waiting until MySQL doesn't respond.. master=198.18.0.12",
            Duration::from_secs(20)
        ),
        "{}",
        m.output()
    );
    c.exec("server2", "SET GLOBAL rpl_semi_sync_master_enabled = 1")
        .await;
    for stmt in [
        "SET GLOBAL rpl_semi_sync_slave_enabled = 1",
        "STOP SLAVE IO_THREAD",
        "START SLAVE IO_THREAD",
    ] {
        c.exec("server3", stmt).await;
    }
    c.wait_value(
        "server2",
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Rpl_semi_sync_master_clients'",
        "1",
        Duration::from_secs(20),
    )
    .await;
    let w = c.writer("server2");
    w.wait_acked(20, Duration::from_secs(30)).await;
    let before = m.output().matches("monitoring the new master").count();
    net.unplug(1);
    assert!(
        m.wait_for_nth(
            "monitoring the new master",
            before + 1,
            Duration::from_secs(60)
        )
        .await,
        "no failover of the second cut host:\n{}",
        m.output()
    );
    let acked = w.stop().await;
    assert_eq!(
        c.value("server3", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0")
    );
    c.assert_has_all("server3", &acked).await;
    m.child.kill().unwrap();
    let _ = m.child.wait();
    net.plug(0);
    net.plug(1);
    drop(c);
    drop(net);
}
