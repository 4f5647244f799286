//! The one integration-test binary (one link instead of one per file). Tests start real
//! mariadbd and sshd processes through the sandbox code, each on its own ports, and stop them
//! even when they fail.

mod after_failover;
mod bed;
mod check_repl;
mod check_ssh;
mod cli;
mod conf_host;
mod etcd;
mod etcd_chaos;
mod etcd_switch;
mod etcd_tls;
mod failover;
mod manager;
mod many_apps;
mod metrics;
mod mha_compat;
mod mha_hooks;
mod mha_regression;
mod multi_tier;
mod netns;
mod output_json;
mod packaging;
mod parity;
mod positions;
mod proxy;
mod purge;
mod rejoin;
mod sandbox;
mod semi_sync;
mod switchover;
