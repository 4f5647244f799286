//! MHA resolves `ip` (from `hostname`) and `ssh_ip` (from `ssh_host`) when it loads a
//! configuration, so hooks get addresses in `--*_ip`. The lookup goes through the system
//! resolver (getaddrinfo: /etc/hosts, then DNS) behind the [`Resolver`] seam; unit tests use a
//! table and never send a query.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

use super::Config;
use super::error::{ConfigError, ConfigErrors};

pub trait Resolver {
    /// The address of `host` (an IPv4 one first, as MHA's gethostbyname gave), or why not.
    fn lookup(&self, host: &str) -> Result<String, String>;
}

/// getaddrinfo.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Result<String, String> {
        let addrs: Vec<IpAddr> = (host, 0)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .map(|a| a.ip())
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .map(IpAddr::to_string)
            .ok_or_else(|| "no address".to_string())
    }
}

/// A fixed table: names it does not hold fail as the system's "not known" would.
pub struct TableResolver(pub BTreeMap<String, IpAddr>);

impl Resolver for TableResolver {
    fn lookup(&self, host: &str) -> Result<String, String> {
        self.0
            .get(host)
            .map(IpAddr::to_string)
            .ok_or_else(|| "Name or service not known".to_string())
    }
}

/// The resolver `config::load` uses: the system's, except in the unit tests, which never
/// send a query and keep names as written (they compare names).
pub fn default_resolver() -> Box<dyn Resolver> {
    if cfg!(test) {
        Box::new(KeepNames)
    } else {
        Box::new(SystemResolver)
    }
}

struct KeepNames;

impl Resolver for KeepNames {
    fn lookup(&self, host: &str) -> Result<String, String> {
        Ok(host.to_string())
    }
}

/// Replace every `ip`/`ssh_ip` that is a name by its address. A name that cannot be
/// resolved is a configuration error naming the block, the key and the host. Under the
/// unit-test resolver names stay as they are.
pub fn resolve_addresses(config: &mut Config, r: &dyn Resolver) -> Result<(), ConfigErrors> {
    let mut cache: BTreeMap<String, Result<String, String>> = BTreeMap::new();
    let mut errors = Vec::new();
    let path = config.path.clone();
    let mut fix = |block: &str, key: &str, from: &str, value: &mut String| {
        if value.parse::<IpAddr>().is_ok() {
            return;
        }
        let got = cache
            .entry(value.clone())
            .or_insert_with(|| r.lookup(value))
            .clone();
        match got {
            Ok(ip) => *value = ip,
            Err(e) => errors.push(
                ConfigError::new(
                    &path,
                    format!(
                        "cannot resolve {from} {value:?} to an address ({e}); fix the name or set {key} to the address"
                    ),
                )
                .block(block)
                .key(key),
            ),
        }
    };
    for s in &mut config.servers {
        fix(&s.block, "ip", "hostname", &mut s.ip);
        fix(&s.block, "ssh_ip", "ssh_host", &mut s.ssh.ip);
    }
    for b in &mut config.binlog_servers {
        fix(&b.block, "ip", "hostname", &mut b.ip);
        fix(&b.block, "ssh_ip", "ssh_host", &mut b.ssh.ip);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names become addresses (each looked up once), literal addresses are kept, and a name
    /// that does not resolve is an error naming block, key and host.
    #[test]
    fn names_resolve_to_addresses_and_failures_name_the_host() {
        let table = TableResolver(BTreeMap::from([
            ("db1".to_string(), "192.0.2.1".parse().unwrap()),
            ("ssh1".to_string(), "192.0.2.9".parse().unwrap()),
        ]));
        let conf = "[server default]\nuser=mha\n[server1]\nhostname=db1\nssh_host=ssh1\n\
                    [server2]\nhostname=198.51.100.2\n[server3]\nhostname=db3\nip=192.0.2.3\n";
        // server3: ssh_host defaults to hostname db3, which the table lacks.
        let mut c = crate::config::from_text(conf);
        let err = resolve_addresses(&mut c, &table).unwrap_err().to_string();
        assert!(
            err.contains("[server3] ssh_ip: cannot resolve ssh_host \"db3\""),
            "{err}"
        );
        let conf = conf.replace("ip=192.0.2.3", "ip=192.0.2.3\nssh_ip=192.0.2.33");
        let mut c = crate::config::from_text(&conf);
        resolve_addresses(&mut c, &table).unwrap();
        let got: Vec<(&str, &str)> = c
            .servers
            .iter()
            .map(|s| (s.ip.as_str(), s.ssh.ip.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("192.0.2.1", "192.0.2.9"),
                ("198.51.100.2", "198.51.100.2"),
                ("192.0.2.3", "192.0.2.33")
            ]
        );
    }
}
