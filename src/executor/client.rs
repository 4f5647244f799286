//! How the client tools `mha` runs on the manager host (`mariadb-binlog`, `mariadb`; found
//! by `executor::tools`) get a password without a command line showing it.

use std::io::Write;
use std::path::Path;

use crate::config::ServerConfig;

/// A private option file (mode 0600, in `dir`, removed when dropped) with the user,
/// password, address and port of `s`, for `--defaults-extra-file`: the password goes in it,
/// never on a command line, where every local user could read it.
pub fn client_defaults(dir: &Path, s: &ServerConfig) -> std::io::Result<tempfile::NamedTempFile> {
    let mut f = tempfile::Builder::new()
        .prefix(".mha-client-")
        .tempfile_in(dir)?;
    let quoted = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    writeln!(
        f,
        "[client]\nuser=\"{}\"\npassword=\"{}\"\nhost={}\nport={}\nprotocol=tcp",
        quoted(&s.user),
        quoted(s.password.expose()),
        s.ip,
        s.port
    )?;
    f.flush()?;
    Ok(f)
}
