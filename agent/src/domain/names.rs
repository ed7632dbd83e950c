use std::fmt;

use super::invisible::first_invisible;
use super::FieldError;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1); longer names fail with ERANGE.
const MAX_LINK_NAME: usize = 15;
/// A namespace name becomes one file name under /run/netns.
const MAX_NAMESPACE_NAME: usize = 255;

/// An interface name the kernel will accept: what `dev_valid_name()` checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkName(String);

impl LinkName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let reason = if value.is_empty() {
            Some("must not be empty".to_string())
        } else if value.len() > MAX_LINK_NAME {
            Some(format!(
                "{value:?} is {} bytes; link names are at most {MAX_LINK_NAME}",
                value.len()
            ))
        } else if value == "." || value == ".." {
            Some(format!("{value:?} is not a valid link name"))
        } else {
            value
                .chars()
                .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || *c == '\0')
                .map(|bad| format!("{value:?} contains {bad:?}; link names cannot contain '/', ':', whitespace or NUL"))
        };
        match reason {
            Some(reason) => Err(FieldError::new(field, reason)),
            None => Ok(Self(value.to_string())),
        }
    }

    /// A name for a link nsfleet creates: also free of invisible characters (see `refuse_invisible`).
    pub fn parse_new(field: &str, value: &str) -> Result<Self, FieldError> {
        let name = Self::parse(field, value)?;
        refuse_invisible(field, value)?;
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names are shown on terminals: one holding a control, format or line-separator character could pass for
/// another name or rewrite the screen (`invisible.rs` has the exact rule). nsfleet never gives such a
/// name to what it creates. A name that refers to an existing object follows only the kernel's rules
/// (`parse`): one made behind nsfleet's back with `ip` can still be listed, used and deleted, and the
/// registry and the guard read names from the system with `parse` too.
fn refuse_invisible(field: &str, value: &str) -> Result<(), FieldError> {
    match first_invisible(value) {
        Some(bad) => Err(FieldError::new(
            field,
            format!(
                "{value:?} contains {}; new names cannot contain control or invisible formatting characters",
                bad.escape_unicode()
            ),
        )),
        None => Ok(()),
    }
}

/// A namespace name as iproute2 allows it: one path component under /run/netns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceName(String);

impl NamespaceName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let reason = if value.is_empty() {
            Some("must not be empty".to_string())
        } else if value.len() > MAX_NAMESPACE_NAME {
            Some(format!(
                "is {} bytes; namespace names are at most {MAX_NAMESPACE_NAME}",
                value.len()
            ))
        } else if value == "." || value == ".." {
            Some(format!("{value:?} is not a valid namespace name"))
        } else if value.contains('/') || value.contains('\0') {
            Some(format!(
                "{value:?} must be a single path component (no '/' or NUL)"
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(FieldError::new(field, reason)),
            None => Ok(Self(value.to_string())),
        }
    }

    /// A name for a namespace nsfleet creates: also free of invisible characters (see `refuse_invisible`).
    pub fn parse_new(field: &str, value: &str) -> Result<Self, FieldError> {
        let name = Self::parse(field, value)?;
        refuse_invisible(field, value)?;
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a request acts: the agent's own (host) namespace, or a named one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamespaceRef {
    Host,
    Named(NamespaceName),
}

impl NamespaceRef {
    /// The API's convention: "" is the host namespace.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        if value.is_empty() {
            Ok(Self::Host)
        } else {
            NamespaceName::parse(field, value).map(Self::Named)
        }
    }

    /// The API spelling: "" for the host.
    pub fn as_api_str(&self) -> &str {
        match self {
            Self::Host => "",
            Self::Named(name) => name.as_str(),
        }
    }
}

impl fmt::Display for NamespaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host => f.write_str("the host namespace"),
            Self::Named(name) => write!(f, "namespace {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_follow_the_kernels_rules() {
        for good in ["veth1", "br0", "a", "exactly15bytes_", "ceth-1.2@x"] {
            assert!(
                LinkName::parse("name", good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        for bad in [
            "",
            ".",
            "..",
            "sixteen_bytes_xx",
            "a/b",
            "a b",
            "a\tb",
            "a\0b",
            "eth0:1",
            "é234567890123456",
        ] {
            let err = LinkName::parse("name", bad).expect_err(bad);
            assert_eq!(err.field, "name");
        }
    }

    #[test]
    fn namespace_names_are_one_path_component() {
        for good in ["netns1", "a b", "ünïcode", &"x".repeat(255)] {
            assert!(
                NamespaceName::parse("name", good).is_ok(),
                "{good:?} should be accepted"
            );
        }
        for bad in ["", ".", "..", "a/b", "/etc", "a\0", &"x".repeat(256)] {
            assert!(
                NamespaceName::parse("name", bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn new_names_hold_nothing_invisible_but_existing_ones_may() {
        for deceptive in ["a\u{1b}[31mb", "a\u{200b}b", "a\u{202e}b", "a\u{7f}"] {
            assert!(LinkName::parse("name", deceptive).is_ok(), "{deceptive:?}");
            let err = LinkName::parse_new("name", deceptive).expect_err(deceptive);
            assert_eq!(err.field, "name");
        }
        for deceptive in [
            "one\ntwo",
            "a\u{1b}[31mb",
            "zero\u{200b}width",
            "a\u{2028}b",
            "\u{feff}bom",
        ] {
            assert!(
                NamespaceName::parse("name", deceptive).is_ok(),
                "{deceptive:?}"
            );
            let err = NamespaceName::parse_new("name", deceptive).expect_err(deceptive);
            assert_eq!(err.field, "name");
        }
        assert!(LinkName::parse_new("name", "veth1").is_ok());
        assert!(NamespaceName::parse_new("name", "a b").is_ok());
    }

    #[test]
    fn empty_namespace_means_host() {
        assert_eq!(NamespaceRef::parse("namespace", ""), Ok(NamespaceRef::Host));
        assert!(matches!(
            NamespaceRef::parse("namespace", "n1"),
            Ok(NamespaceRef::Named(_))
        ));
        assert_eq!(
            NamespaceRef::parse("namespace", "..").map_err(|e| e.field),
            Err("namespace".to_string())
        );
    }
}
