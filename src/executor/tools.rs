//! The programs a failover runs on the manager's host: the binlog decoder and the client that
//! applies what it decodes (`mariadb-binlog | mariadb`, `mysqlbinlog | mysql`). Looked up in
//! the server's `client_bindir` first, then in PATH; run with the server's `client_libdir`
//! (MHA's library path for those tools) first in LD_LIBRARY_PATH.
//!
//! MySQL's binlogs need MySQL's own `mysqlbinlog`: MariaDB's decoder (which Debian also
//! installs as `mysqlbinlog`, a symlink to `mariadb-binlog`) does not turn MySQL's GTID events
//! into `SET GTID_NEXT`, so the transactions it replays would get new GTIDs. A `mysqlbinlog`
//! that resolves to a MariaDB program is therefore skipped for MySQL.

use std::path::{Path, PathBuf};

use crate::config::ServerConfig;
use crate::topology::Flavour;

pub const BINLOG_TOOLS: [&str; 2] = ["mariadb-binlog", "mysqlbinlog"];
pub const CLIENT_TOOLS: [&str; 2] = ["mariadb", "mysql"];
pub const MYSQL_BINLOG_TOOLS: [&str; 1] = ["mysqlbinlog"];
pub const MYSQL_CLIENT_TOOLS: [&str; 1] = ["mysql"];

/// The binlog decoder's names for a flavour, in order of preference.
pub fn binlog_tools(flavour: Flavour) -> &'static [&'static str] {
    match flavour {
        Flavour::MariaDb => &BINLOG_TOOLS,
        Flavour::MySql => &MYSQL_BINLOG_TOOLS,
    }
}

/// The client's names for a flavour, in order of preference.
pub fn client_tools(flavour: Flavour) -> &'static [&'static str] {
    match flavour {
        Flavour::MariaDb => &CLIENT_TOOLS,
        Flavour::MySql => &MYSQL_CLIENT_TOOLS,
    }
}

/// Where `names` are looked for: `client_bindir` of `s`, then PATH.
pub fn search_dirs(s: &ServerConfig) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = s.client_bindir.iter().cloned().collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// The first of `names` found for server `s`.
pub fn find(names: &[&str], s: &ServerConfig) -> Option<PathBuf> {
    find_program_in(names, &search_dirs(s))
}

/// The binlog decoder for server `s` of `flavour` (for MySQL: MySQL's `mysqlbinlog`, not a
/// MariaDB program under that name).
pub fn find_binlog_tool(flavour: Flavour, s: &ServerConfig) -> Option<PathBuf> {
    find_binlog_tool_in(flavour, &search_dirs(s))
}

/// [`find_binlog_tool`] in `dirs`.
pub fn find_binlog_tool_in(flavour: Flavour, dirs: &[PathBuf]) -> Option<PathBuf> {
    match flavour {
        Flavour::MariaDb => find_program_in(&BINLOG_TOOLS, dirs),
        Flavour::MySql => dirs
            .iter()
            .map(|d| d.join("mysqlbinlog"))
            .find(|p| p.is_file() && !is_mariadb_program(p)),
    }
}

/// A program whose real file (symlinks resolved) has a MariaDB name.
fn is_mariadb_program(p: &Path) -> bool {
    std::fs::canonicalize(p)
        .ok()
        .and_then(|r| r.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| n.starts_with("mariadb"))
}

/// The first of `names` in the first of `dirs` that holds it.
pub fn find_program_in(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    names
        .iter()
        .find_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()))
}

/// A command running `program` (one of the tools found for `s`), with `client_libdir` first
/// in its LD_LIBRARY_PATH when set.
pub fn command(program: &Path, s: &ServerConfig) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    if let Some(dir) = &s.client_libdir {
        cmd.env(
            "LD_LIBRARY_PATH",
            library_path(dir, std::env::var_os("LD_LIBRARY_PATH")),
        );
    }
    cmd
}

/// `dir` before the inherited library path.
fn library_path(dir: &Path, inherited: Option<std::ffi::OsString>) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(old) = inherited {
        dirs.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(p: &Path) {
        std::fs::write(p, "#!/bin/sh\n").unwrap();
    }

    /// client_bindir first; for MySQL only a `mysqlbinlog` that is not MariaDB's symlink.
    #[test]
    fn tools_by_flavour_in_client_bindir_then_path() {
        let d = tempfile::tempdir().unwrap();
        let (maria, mysql) = (d.path().join("maria"), d.path().join("mysql"));
        std::fs::create_dir_all(&maria).unwrap();
        std::fs::create_dir_all(&mysql).unwrap();
        exe(&maria.join("mariadb-binlog"));
        std::os::unix::fs::symlink(maria.join("mariadb-binlog"), maria.join("mysqlbinlog"))
            .unwrap();
        let dirs = |v: &[&PathBuf]| v.iter().map(|p| p.to_path_buf()).collect::<Vec<_>>();
        let pick = |dirs: &[PathBuf]| find_binlog_tool_in(Flavour::MySql, dirs);
        // Only MariaDB's decoder (as on this host): none for MySQL.
        assert_eq!(pick(&dirs(&[&maria])), None);
        assert_eq!(
            find_binlog_tool_in(Flavour::MariaDb, &dirs(&[&maria])),
            Some(maria.join("mariadb-binlog"))
        );
        // MySQL's own in a client_bindir listed after: found there.
        exe(&mysql.join("mysqlbinlog"));
        assert_eq!(
            pick(&dirs(&[&maria, &mysql])),
            Some(mysql.join("mysqlbinlog"))
        );
        assert_eq!(binlog_tools(Flavour::MySql), ["mysqlbinlog"]);
        assert_eq!(client_tools(Flavour::MySql), ["mysql"]);
        assert_eq!(client_tools(Flavour::MariaDb), ["mariadb", "mysql"]);
    }

    #[test]
    fn client_libdir_comes_first_in_the_library_path() {
        for (inherited, want) in [
            (None, "/opt/mysql/lib"),
            (Some("/usr/local/lib"), "/opt/mysql/lib:/usr/local/lib"),
        ] {
            let got = library_path(Path::new("/opt/mysql/lib"), inherited.map(Into::into));
            assert_eq!(got, std::ffi::OsString::from(want));
        }
    }
}
