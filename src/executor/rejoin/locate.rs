//! Which server returns, and with which settings: its block in the configuration file; else
//! the block `--remove_dead_master_conf` deleted, kept in the workdir; else, from its
//! deposed-master marker, a block with only its address.

use std::path::Path;

use serde::Serialize;
use tracing::{info, warn};

use super::error::RejoinError;
use crate::config::{self, Config, GlobalConf, ServerConfig, write};
use crate::executor::deposed::{self, DeposedMarker};
use crate::status::rejoin::{self as kept, RemovedBlock};

/// The server to rejoin.
#[derive(Debug, Clone)]
pub struct Returning {
    pub server: ServerConfig,
    /// Its block is not in the configuration file: how it is written back.
    pub write_back: Option<BlockToWrite>,
}

/// A server block to write back into the configuration file.
#[derive(Debug, Clone, Serialize)]
pub struct BlockToWrite {
    pub block: String,
    pub hostname: String,
    /// `conf_host --params`; may hold a password, so it is never shown.
    #[serde(skip)]
    pub params: Vec<(String, String)>,
    /// Where it comes from, in DBA words.
    pub from: String,
}

fn matches(s: &ServerConfig, host: &str, port: Option<u16>) -> bool {
    (s.hostname == host || s.ip == host) && port.is_none_or(|p| p == s.port)
}

/// Find `host` (`port`) for a rejoin. `config` is the configuration as its file says now.
pub fn locate(
    config: &Config,
    global: &GlobalConf,
    workdir: &Path,
    host: &str,
    port: Option<u16>,
) -> Result<Returning, RejoinError> {
    let listed: Vec<&ServerConfig> = config
        .servers
        .iter()
        .filter(|s| matches(s, host, port))
        .collect();
    match listed.as_slice() {
        [one] => {
            return Ok(Returning {
                server: (*one).clone(),
                write_back: None,
            });
        }
        [] => {}
        many => {
            return Err(RejoinError::Ambiguous {
                host: host.into(),
                candidates: many.iter().map(|s| s.display_name()).collect(),
            });
        }
    }
    let to_write = match kept::find_removed(workdir, &config.app_name, host, port).as_slice() {
        [one] => removed_block(one, workdir),
        [] => from_marker(config, workdir, host, port)?,
        many => {
            return Err(RejoinError::Ambiguous {
                host: host.into(),
                candidates: many.iter().map(|b| format!("[{}]", b.block)).collect(),
            });
        }
    };
    let text = write::text_with_server_block(
        &config.path,
        &to_write.block,
        &to_write.hostname,
        &to_write.params,
    )?;
    let planned = config::load_text(&config.path, &text, global)?.config;
    let server = planned
        .servers
        .into_iter()
        .find(|s| s.block == to_write.block)
        .ok_or_else(|| RejoinError::NotFound {
            host: host.into(),
            port,
            conf: config.path.clone(),
            workdir: workdir.into(),
        })?;
    Ok(Returning {
        server,
        write_back: Some(to_write),
    })
}

fn removed_block(b: &RemovedBlock, workdir: &Path) -> BlockToWrite {
    BlockToWrite {
        block: b.block.clone(),
        hostname: b.hostname.clone(),
        params: b.params.clone(),
        from: format!(
            "[{}] as --remove_dead_master_conf removed it ({})",
            b.block,
            kept::removed_path(workdir, &b.app, &b.hostname, b.port).display()
        ),
    }
}

/// Only its address is known (from its deposed-master marker): `[server_<host>]`, or
/// `[server_<host>_<port>]` when that name is taken.
fn from_marker(
    config: &Config,
    workdir: &Path,
    host: &str,
    port: Option<u16>,
) -> Result<BlockToWrite, RejoinError> {
    let not_found = || RejoinError::NotFound {
        host: host.into(),
        port,
        conf: config.path.clone(),
        workdir: workdir.into(),
    };
    let marker: DeposedMarker = markers_of(workdir, &config.app_name, host, port)
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    let taken = |b: &str| config.servers.iter().any(|s| s.block == b);
    let mut block = format!("server_{}", marker.hostname);
    if taken(&block) {
        block = format!("server_{}_{}", marker.hostname, marker.port);
    }
    let mut params = vec![("port".to_string(), marker.port.to_string())];
    if marker.ip != marker.hostname {
        params.push(("ip".into(), marker.ip.clone()));
    }
    Ok(BlockToWrite {
        block,
        hostname: marker.hostname.clone(),
        params,
        from: format!(
            "its address only, from its deposed-master marker {}: add its other settings by hand",
            deposed::marker_file(workdir, &config.app_name, &marker.hostname, marker.port)
                .display()
        ),
    })
}

fn markers_of(workdir: &Path, app: &str, host: &str, port: Option<u16>) -> Vec<DeposedMarker> {
    std::fs::read_dir(workdir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&format!("{app}.deposed.")) && n.ends_with(".json")
        })
        .filter_map(|e| deposed::read_marker(&e.path()))
        .filter(|m| (m.hostname == host || m.ip == host) && port.is_none_or(|p| p == m.port))
        .collect()
}

/// Before `--remove_dead_master_conf` deletes the dead master's block: keep it in the
/// workdir, so that `mha rejoin` can write it back as it was.
pub fn keep_removed_block(config: &Config, workdir: &Path, s: &ServerConfig, now_unix: u64) {
    match write::server_block_params(&config.path, &s.block) {
        Ok(Some((hostname, params))) => {
            let b = RemovedBlock {
                app: config.app_name.clone(),
                block: s.block.clone(),
                hostname,
                port: s.port,
                removed_unix: now_unix,
                params,
            };
            match kept::save_removed(workdir, &b) {
                Ok(p) => info!(
                    "Kept [{}] in {} for `mha rejoin`, which writes it back",
                    s.block,
                    p.display()
                ),
                Err(e) => warn!(
                    "could not keep [{}] in {}: {e}; `mha rejoin` will only know its address",
                    s.block,
                    workdir.display()
                ),
            }
        }
        Ok(None) => {}
        Err(e) => warn!(
            "could not read [{}] before removing it: {e}; `mha rejoin` will only know its address",
            s.block
        ),
    }
}
