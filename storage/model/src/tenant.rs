//! Tenants: every series belongs to exactly one, named `[A-Za-z0-9_-]{1,64}`.

use std::fmt;

use crate::error::{Error, Result};

/// A tenant name: `[A-Za-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    pub const DEFAULT: &'static str = "default";

    pub fn new(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Tenant(name.to_string()))
        } else {
            Err(Error::InvalidTenant {
                tenant: name.to_string(),
            })
        }
    }

    pub fn default_tenant() -> Self {
        Tenant(Self::DEFAULT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_validated() {
        assert!(Tenant::new("acme-1_x").is_ok());
        assert!(Tenant::new("").is_err());
        assert!(Tenant::new("a b").is_err());
        assert!(Tenant::new(&"a".repeat(65)).is_err());
    }
}
