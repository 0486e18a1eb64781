//! `external_alerts.allowed_ips`: the networks (`10.0.0.0/8`, `2001:db8::/32`) and single
//! addresses (`192.0.2.7`) allowed to post external alerts. Empty allows every address.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IpAllowList {
    nets: Vec<IpNet>,
}

impl IpAllowList {
    /// Parses every entry; the error names the first bad one.
    pub fn parse(entries: &[String]) -> Result<IpAllowList, String> {
        let nets = entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{e:?} is neither an IP address nor a CIDR network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(IpAllowList { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` may post. An IPv4 peer seen as IPv4-mapped IPv6 (`::ffff:10.1.2.3`, a
    /// dual-stack listener) is checked as the IPv4 address it is.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> IpAllowList {
        IpAllowList::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn networks_and_single_addresses() {
        let l = list(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.allows(ip("10.200.1.1")));
        assert!(l.allows(ip("192.0.2.7")));
        assert!(!l.allows(ip("192.0.2.8")));
        assert!(l.allows(ip("2001:db8::1")));
        assert!(!l.allows(ip("127.0.0.1")));
        assert!(l.allows(ip("::ffff:10.1.2.3")));
        assert!(list(&[]).allows(ip("127.0.0.1")));
    }

    #[test]
    fn a_bad_entry_is_named() {
        let e = IpAllowList::parse(&["10.0.0.0/8".into(), "10.0.0.300".into()]).unwrap_err();
        assert!(e.contains("\"10.0.0.300\""), "{e}");
    }
}
