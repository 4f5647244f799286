//! `multi_tier_slave=1` (MHA's 3-tier topologies): a replica of a replica is left alone by
//! check_repl, the online switchover and the failover, and keeps replicating from its parent.

use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, Daemon};

const T: Duration = Duration::from_secs(30);

/// check_repl: (exit code, text).
fn check_repl(c: &Cluster) -> (i32, String) {
    let conf = c.state.app_config();
    let out = bed::run_mha(
        &bed::mha_bin(),
        &["check_repl", "--conf", conf.to_str().unwrap()],
    );
    let (text, err) = bed::text(&out);
    (out.status.code().unwrap(), format!("{text}\n{err}"))
}

/// `node` replicates from `parent` by GTID (a replica of a replica).
async fn repoint(c: &Cluster, node: &str, parent: &str) {
    c.exec(node, "STOP SLAVE").await;
    c.exec(
        node,
        &format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USE_GTID=slave_pos",
            c.node(parent).port
        ),
    )
    .await;
    c.exec(node, "START SLAVE").await;
    c.wait_replicating_from(node, parent, T).await;
}

/// A row written on `master` after everything else reaches `node` (it caught up).
async fn caught_up(c: &Cluster, master: &str, node: &str, id: u64) {
    c.exec(
        master,
        &format!("INSERT INTO mha_it.acked (id) VALUES ({id})"),
    )
    .await;
    let q = format!("SELECT COUNT(*) FROM mha_it.acked WHERE id = {id}");
    c.wait_value(node, &q, "1", T).await;
}

/// server1 -> server2, server1 -> server3 -> server4. Without multi_tier_slave check_repl
/// refuses naming the key; with it check_repl passes, an online switchover to server2 and a
/// crash failover of server2 under a write load leave server4 on server3, and no
/// acknowledged write is missing on any server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_a_replica_is_left_alone_by_checks_switchover_and_failover() {
    let c = Cluster::start(3, Mode::Gtid).await;
    c.create_acked_table().await;
    c.wait_acked_table("server4", T).await;
    repoint(&c, "server4", "server3").await;
    let (s3, s4) = (c.node("server3").port, c.node("server4").port);

    let (code, text) = check_repl(&c);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("127.0.0.1(127.0.0.1:{s4})"))
            && text.contains("a replica of a replica needs multi_tier_slave=1"),
        "{text}"
    );

    c.add_app_settings("multi_tier_slave = 1\n");
    let (code, text) = check_repl(&c);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            " +--127.0.0.1(127.0.0.1:{s3})\n     +--127.0.0.1(127.0.0.1:{s4})"
        )),
        "the tree shows server4 under server3:\n{text}"
    );
    assert!(text.contains("(multi_tier_slave=1): left alone"), "{text}");

    // Online switchover to server2: server3 follows it, server4 stays on server3.
    let conf = c.state.app_config();
    let out = bed::switch_alive_command(&conf, c.node("server2").port)
        .arg("--orig_master_is_new_slave")
        .output()
        .unwrap();
    let (o, e) = bed::text(&out);
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert!(
        format!("{o}{e}").contains(&format!(
            "127.0.0.1(127.0.0.1:{s4}) replicates from 127.0.0.1(127.0.0.1:{s3}): left alone"
        )),
        "{o}\n{e}"
    );
    c.wait_replicating_from("server3", "server2", T).await;
    c.wait_replicating_from("server1", "server2", T).await;
    c.wait_replicating_from("server4", "server3", T).await;

    // Crash server2 under a write load; server3 may not be promoted, so server1 is.
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replacen("[server3]\n", "[server3]\nno_master = 1\n", 1),
    )
    .unwrap();
    let m = Daemon::manager(&conf, &[], c.dir.path().join("manager.log"), T);
    let w = c.writer("server2");
    w.wait_acked(50, T).await;
    sandbox::fault(c.dir.path(), "server2", Fault::Crash)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked = w.stop().await;
    m.expect_failovers(1, Duration::from_secs(60)).await;
    let log = m.output();
    // The switch ended before the manager started, onto the master it found: not followed
    // again (no second start-up).
    assert!(!log.contains("Planned switchover to"), "{log}");
    assert!(
        log.contains(&format!(
            "127.0.0.1(127.0.0.1:{s4}) replicates from 127.0.0.1(127.0.0.1:{s3}): left alone (multi_tier_slave=1)"
        )),
        "{log}"
    );
    let rec = bed::wait_record(&c, "app1", &m);
    assert_eq!(rec["outcome"], "success", "{log}");
    assert_eq!(rec["new_master_id"], "server1", "{log}");
    assert_eq!(rec["left_alone"].as_array().unwrap().len(), 1, "{rec}");

    // server3 was repointed at server1; server4 never moved and still replicates from it.
    c.wait_replicating_from("server3", "server1", T).await;
    let st = c.wait_replicating_from("server4", "server3", T).await;
    assert_eq!(st["Using_Gtid"].as_deref(), Some("Slave_Pos"));
    caught_up(&c, "server1", "server4", 1_000_000).await;
    for node in ["server1", "server3", "server4"] {
        c.assert_has_all(node, &acked).await;
    }
}
