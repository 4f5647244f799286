//! The MySQL dialect per version on recorded server outputs (`tests/fixtures/mysql/`, written
//! from the MySQL manuals: no MySQL server runs here). Each file gives a version, the outputs
//! of its statements in the client's vertical form, the statements `mha` must send to it, and
//! what `mha` must read from the outputs.

use std::collections::BTreeMap;

use super::dialect::{Dialect, StartAt};
use crate::secret::Secret;
use crate::topology::{BinlogPos, MysqlGtidSet, ReplicaStatus, Row, Version};

const FILES: [(&str, &str); 4] = [
    (
        "mysql-5.7.txt",
        include_str!("../../tests/fixtures/mysql/mysql-5.7.txt"),
    ),
    (
        "mysql-8.0.21.txt",
        include_str!("../../tests/fixtures/mysql/mysql-8.0.21.txt"),
    ),
    (
        "mysql-8.0.36.txt",
        include_str!("../../tests/fixtures/mysql/mysql-8.0.36.txt"),
    ),
    (
        "mysql-8.4.txt",
        include_str!("../../tests/fixtures/mysql/mysql-8.4.txt"),
    ),
];

/// One fixture: its version and its sections by title.
struct Recorded {
    version: String,
    sections: BTreeMap<String, Vec<String>>,
}

fn read(text: &str) -> Recorded {
    let mut version = String::new();
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(title) = line.strip_prefix("== ") {
            current = Some(title.to_string());
            sections.entry(title.to_string()).or_default();
        } else if let Some(v) = line.strip_prefix("version: ") {
            version = v.to_string();
        } else if let Some(c) = &current {
            sections
                .entry(c.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    Recorded { version, sections }
}

/// The client's vertical form (`Column: value`, right-aligned names) as a row; a line that is
/// no `Name: value` continues the value above (multi-line GTID sets).
fn vertical(lines: &[String]) -> Row {
    let mut row = Row::new();
    let mut last: Option<String> = None;
    for line in lines {
        let named = line.split_once(':').filter(|(k, _)| {
            let k = k.trim();
            line.starts_with(' ')
                || !k.contains('-') && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match (named, &last) {
            (Some((k, v)), _) => {
                let v = v.trim();
                let v = (v != "NULL").then(|| v.to_string());
                row.insert(k.trim().to_string(), v);
                last = Some(k.trim().to_string());
            }
            (None, Some(k)) => {
                if let Some(Some(v)) = row.get_mut(k) {
                    v.push('\n');
                    v.push_str(line.trim());
                }
            }
            (None, None) => panic!("a value without a column: {line}"),
        }
    }
    row
}

fn pairs(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// What `mha` would send to that version, by the fixture's statement names.
fn statements(d: Dialect, status: &ReplicaStatus) -> BTreeMap<String, String> {
    let to = crate::config::from_text(
        "[server default]\nuser=mha\npassword=x\nssh_user=root\n[server1]\nhostname=db2\nip=10.0.0.2\n",
    )
    .servers
    .remove(0);
    let read = status.read_pos.clone().unwrap_or(BinlogPos::new("", 0));
    let retrieved = MysqlGtidSet::parse(&status.retrieved_gtid_set).unwrap();
    let none: Option<&Secret> = None;
    [
        ("show_replica_status", d.show_replica_status().to_string()),
        ("show_binlog_status", d.show_binlog_status().to_string()),
        ("stop_io_thread", d.stop_io_thread()),
        ("stop_replica", d.stop_replica()),
        ("start_replica", d.start_replica()),
        ("reset_replica_all", d.reset_replica_all()),
        (
            "change_master_gtid",
            d.change_master(&to, Some("repl"), none, &StartAt::Gtid, None),
        ),
        (
            "change_master_coords",
            d.change_master(&to, None, none, &StartAt::Coords(read.clone()), None),
        ),
        ("wait_executed", d.wait_for_executed_gtid_set(&retrieved, 5)),
        ("pos_wait", d.master_pos_wait(&read, 5)),
        ("read_only_on", d.set_read_only(true).to_string()),
        ("read_only_off", d.set_read_only(false).to_string()),
        ("fence", d.fence_read_only().to_string()),
        ("log_slave_updates", d.log_slave_updates().to_string()),
        ("reset_master", d.reset_master().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[test]
fn the_mysql_dialect_per_version_on_recorded_outputs() {
    for (name, text) in FILES {
        let rec = read(text);
        let version = Version::parse(&rec.version).unwrap();
        let d = Dialect::of(&version);
        let status_title = d.show_replica_status();
        let status_lines = rec
            .sections
            .get(status_title)
            .unwrap_or_else(|| panic!("{name}: no {status_title} output"));
        let status = ReplicaStatus::from_row(&vertical(status_lines));
        let expect = pairs(&rec.sections["expect"]);
        let got_master = format!("{}:{}", status.master_host, status.master_port);
        assert_eq!(got_master, expect["master"], "{name}");
        let pos = |p: &Option<BinlogPos>| p.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(pos(&status.read_pos), expect["read"], "{name}");
        assert_eq!(pos(&status.exec_pos), expect["exec"], "{name}");
        assert_eq!(
            format!("{} {}", status.io_running, status.sql_running),
            expect["running"],
            "{name}"
        );
        assert_eq!(status.using_gtid, expect["auto_position"], "{name}");
        assert!(status.uses_gtid(), "{name}");
        assert_eq!(status.master_uuid, expect["master_uuid"], "{name}");
        assert_eq!(status.seconds_behind_master, Some(2), "{name}");
        assert_eq!(status.master_server_id, Some(1), "{name}");
        let gtids = |t: &str| MysqlGtidSet::parse(t).unwrap().to_string();
        assert_eq!(
            gtids(&status.retrieved_gtid_set),
            expect["retrieved"],
            "{name}"
        );
        assert_eq!(
            gtids(&status.executed_gtid_set),
            expect["executed"],
            "{name}"
        );
        let executed = rec.sections["@@global.gtid_executed"].join("\n");
        assert_eq!(gtids(&executed), expect["executed"], "{name}");
        // The server's own state, as observe reads it.
        let vars = vertical(&rec.sections["variables"]);
        let binlog_status = vertical(&rec.sections[d.show_binlog_status()]);
        let state = crate::executor::observe::state_of(version, &vars, Some(&binlog_status), None);
        let crate::topology::GtidState::MySql { mode_on, executed } = &state.gtid else {
            panic!("{name}: not read as MySQL");
        };
        let seen = format!(
            "{} {} {} gtid_mode={} binlog {}",
            state.server_id,
            if state.read_only {
                "read_only"
            } else {
                "writable"
            },
            if state.super_read_only == Some(true) {
                "super_read_only"
            } else {
                "-"
            },
            if *mode_on { "ON" } else { "OFF" },
            pos(&state.binlog)
        );
        assert_eq!(seen, expect["server"], "{name}");
        assert_eq!(executed.to_string(), expect["executed"], "{name}");
        assert!(state.log_slave_updates && !state.relay_log_purge, "{name}");
        let want = pairs(&rec.sections["statements"]);
        let got = statements(d, &status);
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{name}: the fixture names every statement"
        );
        for (k, sql) in &want {
            assert_eq!(&got[k], sql, "{name}: {k}");
        }
    }
}
