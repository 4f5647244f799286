//! `mha conf_host`: add or delete a server block, keeping the file's comments and order and
//! writing atomically (config::write). Deleting the current, reachable master is refused.

use super::args::{ConfHostArgs, ConfHostCommand};
use super::exit::Exit;
use crate::config::write;
use crate::engine::checks::{self, MasterView};

/// MHA's block naming: `--block=B` (prefixed with `server` unless it starts with it), else
/// `server_<hostname>`.
fn block_name(a: &ConfHostArgs) -> Option<String> {
    match (&a.block, &a.hostname) {
        (Some(b), _) if b.starts_with("server") => Some(b.clone()),
        (Some(b), _) => Some(format!("server{b}")),
        (None, Some(h)) => Some(format!("server_{h}")),
        (None, None) => None,
    }
}

/// `"port=3306;candidate_master=1"` → pairs; a piece without `=` is an error naming it.
pub fn parse_params(params: &str) -> anyhow::Result<Vec<(String, String)>> {
    params
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(anyhow::anyhow!("--params: {p:?} is not key=value")),
        })
        .collect()
}

pub fn run(a: &ConfHostArgs) -> anyhow::Result<Exit> {
    let conf = &a.conf;
    match a.command {
        ConfHostCommand::Add => {
            let Some(hostname) = &a.hostname else {
                eprintln!("error: --hostname is required with --command=add");
                return Ok(Exit::Usage);
            };
            let block = block_name(a).expect("hostname given");
            let entries = parse_params(a.params.as_deref().unwrap_or(""))?;
            write::add_server_block(conf, &block, hostname, &entries)?;
            println!("Wrote {block} entry to {} .", conf.display());
            Ok(Exit::Ok)
        }
        ConfHostCommand::Delete | ConfHostCommand::Remove => {
            let block = match (&a.block, &a.hostname) {
                (None, Some(h)) => {
                    let port = parse_params(a.params.as_deref().unwrap_or(""))?
                        .into_iter()
                        .find(|(k, _)| k == "port")
                        .and_then(|(_, v)| v.parse().ok());
                    write::find_block_by_host(conf, h, port)?
                        .unwrap_or_else(|| format!("server_{h}"))
                }
                _ => block_name(a).expect("clap requires --block or --hostname"),
            };
            // Refuse to delete the master the cluster runs on.
            let loaded = super::load(&super::ConfArgs {
                conf: conf.clone(),
                global_conf: crate::config::DEFAULT_GLOBAL_CONF.into(),
            })?;
            let config = loaded.config;
            let topo = super::runtime()?.block_on(crate::executor::observe::observe(
                &config,
                config.app.timeouts.observe,
            ));
            if let MasterView::Alive { index } = checks::find_master(&topo)
                && topo.servers[index].block == block
            {
                eprintln!(
                    "error: [{block}] is the current master {}: switch it over or fail it over first. Nothing was changed.",
                    topo.servers[index].name()
                );
                return Ok(Exit::Failure);
            }
            if write::delete_server_block(conf, &block)? {
                println!("Deleted {block} entry from {} .", conf.display());
            } else {
                println!("Entry {block} not found from {} .", conf.display());
            }
            Ok(Exit::Ok)
        }
    }
}
