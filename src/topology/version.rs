//! Server versions. Only major.minor.patch are read: distribution suffixes such as
//! `10.11.19-MariaDB-0+deb12u1-log` broke MHA's version parsing.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    MariaDb,
    MySql,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub flavour: Flavour,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// As the server reported it.
    pub text: String,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let flavour = if text.to_ascii_lowercase().contains("mariadb") {
            Flavour::MariaDb
        } else {
            Flavour::MySql
        };
        // MariaDB 10.x behind some proxies reports "5.5.5-10.11.19-MariaDB": skip the prefix.
        let core = text.strip_prefix("5.5.5-").unwrap_or(text);
        let mut nums = core
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|n| n.parse::<u32>().ok());
        let (major, minor, patch) = (
            nums.next()??,
            nums.next()??,
            nums.next().flatten().unwrap_or(0),
        );
        Some(Version {
            flavour,
            major,
            minor,
            patch,
            text: text.to_string(),
        })
    }

    /// (major, minor): MHA compares versions at this granularity.
    pub fn series(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_version_strings() {
        let cases = [
            (
                "10.11.19-MariaDB-0+deb12u1-log",
                Flavour::MariaDb,
                (10, 11, 19),
            ),
            ("5.5.5-10.6.12-MariaDB", Flavour::MariaDb, (10, 6, 12)),
            ("8.0.36", Flavour::MySql, (8, 0, 36)),
            ("8.4.3-log", Flavour::MySql, (8, 4, 3)),
            ("5.7.44-48-log", Flavour::MySql, (5, 7, 44)),
            ("8.0.36-28.1", Flavour::MySql, (8, 0, 36)),
        ];
        for (text, flavour, (a, b, c)) in cases {
            let v = Version::parse(text).unwrap();
            assert_eq!(
                (v.flavour, v.major, v.minor, v.patch),
                (flavour, a, b, c),
                "{text}"
            );
        }
        assert!(Version::parse("garbage").is_none());
    }
}
