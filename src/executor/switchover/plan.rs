//! The switch plan as a value: what `--dry-run` prints (text and JSON) from phase 1's
//! findings, without touching a server. The hook calls are built by the same function the
//! real switch runs them with, so the plan shows exactly their arguments (passwords masked).

use serde::Serialize;

use super::SwitchOptions;
use super::check::{Plan, winner_reasons};
use crate::config::{Config, ServerConfig, Timeouts};
use crate::engine::elect::Ranking;
use crate::executor::check_repl::ssh_args;
use crate::hooks::HookCall;

/// `master_ip_online_change_script`, as MHA's MasterRotate.pm calls it.
pub(super) const ONLINE_CHANGE: &str = "master_ip_online_change_script";

/// How long a replica may take to apply the old master's last position (phases 3 and 4):
/// `switch_catch_up_timeout`, in the server's whole seconds.
pub(super) fn catch_up_secs(t: &Timeouts) -> u64 {
    Timeouts::whole_secs(t.switch_catch_up)
}

/// How long the old master may take to reach the new master's position once it replicates:
/// `switch_orig_master_catch_up_timeout`.
pub(super) fn orig_catch_up_secs(t: &Timeouts) -> u64 {
    Timeouts::whole_secs(t.switch_orig_master_catch_up)
}

/// The server-side wait for the write lock on the old master: `switch_lock_wait_timeout`, by
/// default 3 × --running_updates_limit.
pub(super) fn lock_wait_secs(opts: &SwitchOptions, t: &Timeouts) -> u64 {
    Timeouts::whole_secs(t.switch_lock_wait(opts.running_updates_limit))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CurrentMaster,
    NewMaster,
    Replica,
}

/// What the switch would do to one server, in order.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    pub server: String,
    pub role: Role,
    pub actions: Vec<String>,
}

/// A hook call the switch would make, its command line as logged (passwords masked).
#[derive(Debug, Clone, Serialize)]
pub struct PlannedHook {
    pub phase: &'static str,
    pub hook: &'static str,
    pub command: &'static str,
    pub command_line: String,
}

/// Everything `--dry-run` knows: the checks passed, the ranking and the choice, what each
/// server would go through, the hooks, and the steps phase by phase.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchPlan {
    pub orig_master: String,
    pub new_master: String,
    /// `gtid` or `file_position`.
    pub mode: &'static str,
    pub checks: Vec<String>,
    pub ranking: Ranking,
    /// Why the new master was chosen.
    pub chosen_because: Vec<String>,
    pub servers: Vec<ServerPlan>,
    pub hooks: Vec<PlannedHook>,
    pub steps: Vec<String>,
}

impl SwitchPlan {
    pub(super) fn new(config: &Config, opts: &SwitchOptions, plan: &Plan) -> SwitchPlan {
        let hooks = ["stop", "start"]
            .into_iter()
            .filter_map(|command| {
                let call = online_change_call(config, command, &plan.orig, &plan.new, opts)?;
                Some(PlannedHook {
                    phase: if command == "stop" { "2" } else { "5" },
                    hook: ONLINE_CHANGE,
                    command,
                    command_line: call.command_line(),
                })
            })
            .collect();
        let mut servers = vec![
            ServerPlan {
                server: plan.orig.display_name(),
                role: Role::CurrentMaster,
                actions: orig_master_actions(opts, plan, &config.app.timeouts),
            },
            ServerPlan {
                server: plan.new.display_name(),
                role: Role::NewMaster,
                actions: new_master_actions(plan, &config.app.timeouts),
            },
        ];
        servers.extend(plan.others.iter().map(|(s, r)| ServerPlan {
            server: s.display_name(),
            role: Role::Replica,
            actions: replica_actions(plan, s, &r.master_user, &config.app.timeouts),
        }));
        SwitchPlan {
            orig_master: plan.orig.display_name(),
            new_master: plan.new.display_name(),
            mode: if plan.gtid { "gtid" } else { "file_position" },
            checks: plan.checks.clone(),
            ranking: plan.ranking.clone(),
            chosen_because: winner_reasons(&plan.ranking),
            servers,
            hooks,
            steps: steps(config, opts, plan),
        }
    }
}

/// How a replica would be pointed at the new master.
fn change_master_to(plan: &Plan, user: &str) -> String {
    format!(
        "point it at {} (CHANGE MASTER TO, {}), user {user}, heartbeat period kept",
        plan.new.display_name(),
        if plan.gtid {
            "MASTER_USE_GTID=slave_pos"
        } else {
            "from the new master's binlog coordinates"
        }
    )
}

fn wait_for_orig(plan: &Plan, t: &Timeouts) -> String {
    format!(
        "wait until it has applied the old master's last position ({}, at most {} s)",
        if plan.gtid {
            "MASTER_GTID_WAIT"
        } else {
            "MASTER_POS_WAIT"
        },
        catch_up_secs(t)
    )
}

fn repl_user(s: &ServerConfig, current: &str) -> String {
    s.repl_user.clone().unwrap_or_else(|| current.to_string())
}

fn orig_master_actions(opts: &SwitchOptions, plan: &Plan, t: &Timeouts) -> Vec<String> {
    let wait = lock_wait_secs(opts, t);
    let mut a = vec![
        format!("read_only=1 (the server waits at most {wait} s: lock_wait_timeout)"),
        "end every client session but ours and replication's".to_string(),
        if opts.skip_lock_all_tables {
            "no global read lock (--skip_lock_all_tables): the binlog position must not move within 100 ms".to_string()
        } else {
            format!("global read lock: FLUSH TABLES WITH READ LOCK (at most {wait} s)")
        },
        "record its binlog coordinates and gtid_binlog_pos".to_string(),
        "after the new master takes writes: release the read lock; it stays read_only=1"
            .to_string(),
    ];
    if opts.orig_master_is_new_slave {
        let user = repl_user(&plan.orig, &plan.new_status.master_user);
        if plan.gtid {
            a.push("set gtid_slave_pos to cover its own binlog".into());
        }
        a.push(format!(
            "{}; start replication",
            change_master_to(plan, &user)
        ));
        a.push(format!(
            "wait until it has applied the new master's position (at most {} s)",
            orig_catch_up_secs(t)
        ));
    } else {
        a.push("left outside replication (no --orig_master_is_new_slave)".into());
    }
    a
}

fn new_master_actions(plan: &Plan, t: &Timeouts) -> Vec<String> {
    vec![
        wait_for_orig(plan, t),
        "stop replication; read its binlog coordinates".into(),
        if plan.new.skip_reset_slave {
            "keep its replication settings (skip_reset_slave=1)".into()
        } else {
            "RESET SLAVE ALL".into()
        },
        "read_only=0: it takes writes (the point of no return)".into(),
    ]
}

fn replica_actions(plan: &Plan, s: &ServerConfig, current_user: &str, t: &Timeouts) -> Vec<String> {
    vec![
        wait_for_orig(plan, t),
        "stop replication".into(),
        format!(
            "{}; start replication",
            change_master_to(plan, &repl_user(s, current_user))
        ),
    ]
}

fn steps(config: &Config, opts: &SwitchOptions, plan: &Plan) -> Vec<String> {
    let (orig, new) = (plan.orig.display_name(), plan.new.display_name());
    let hook = config.app.master_ip_online_change_script.is_some();
    vec![
        format!(
            "Phase 2: {}block writes on {orig} (read_only=1{})",
            if hook {
                "master_ip_online_change_script --command=stop; "
            } else {
                ""
            },
            if opts.skip_lock_all_tables {
                ""
            } else {
                ", FLUSH TABLES WITH READ LOCK"
            }
        ),
        format!("Phase 3: wait until {new} has applied everything, then stop its replication"),
        format!(
            "Phase 4: wait until {} other replica(s) have applied everything, then repoint them at {new}",
            plan.others.len()
        ),
        format!(
            "Phase 5: {new}: {}read_only=0{}",
            if plan.new.skip_reset_slave {
                ""
            } else {
                "RESET SLAVE ALL, "
            },
            if hook {
                ", master_ip_online_change_script --command=start"
            } else {
                ""
            }
        ),
        if opts.orig_master_is_new_slave {
            format!("Phase 5: {orig} becomes a replica of {new}")
        } else {
            format!("Phase 5: {orig} stays read-only")
        },
        format!(
            "any failure before {new} takes writes is rolled back: {orig} takes writes again, every replica replicates from it"
        ),
    ]
}

/// The `master_ip_online_change_script` call for `command` (`stop`, `start`), with MHA's
/// arguments; None when no script is configured.
pub(super) fn online_change_call(
    config: &Config,
    command: &'static str,
    orig: &ServerConfig,
    new: &ServerConfig,
    opts: &SwitchOptions,
) -> Option<HookCall> {
    let cmd = config.app.master_ip_online_change_script.as_ref()?;
    let mut args = vec![
        ("command".to_string(), command.to_string()),
        ("orig_master_host".into(), orig.hostname.clone()),
        ("orig_master_ip".into(), orig.ip.clone()),
        ("orig_master_port".into(), orig.port.to_string()),
        ("orig_master_user".into(), orig.user.clone()),
        ("new_master_host".into(), new.hostname.clone()),
        ("new_master_ip".into(), new.ip.clone()),
        ("new_master_port".into(), new.port.to_string()),
        ("new_master_user".into(), new.user.clone()),
        ("orig_master_ssh_user".into(), orig.ssh.user.clone()),
        ("new_master_ssh_user".into(), new.ssh.user.clone()),
    ];
    // As MHA: each side's ssh host/ip/port when they differ, and --ssh_options once.
    args.extend(ssh_args("orig_master", orig));
    args.extend(
        ssh_args("new_master", new)
            .into_iter()
            .filter(|(k, _)| k != "ssh_options"),
    );
    if opts.orig_master_is_new_slave {
        // A bare switch, as MHA passes it.
        args.push(("orig_master_is_new_slave".into(), String::new()));
    }
    Some(HookCall {
        // MHA's online-change sample connects with the passwords it is given.
        secret_args: if config.app.hook_password_args {
            vec![
                ("orig_master_password".into(), orig.password.clone()),
                ("new_master_password".into(), new.password.clone()),
            ]
        } else {
            vec![]
        },
        hook: ONLINE_CHANGE,
        command: cmd.clone(),
        stdin_json: serde_json::json!({"command": command, "orig_master_password": orig.password.expose(), "new_master_password": new.password.expose()}),
        args,
        env: vec![],
        secret_env: vec![
            ("MHA_ORIG_MASTER_PASSWORD".into(), orig.password.clone()),
            ("MHA_NEW_MASTER_PASSWORD".into(), new.password.clone()),
        ],
        timeout: config.app.hook_timeout,
    })
}
