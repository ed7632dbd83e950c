//! The host inventory: named agents (endpoint, TLS material, token source) and groups of them, so that
//! `--host web1` and `--host @lab` stand for endpoints and their credentials.
//!
//! Where it is: `--inventory FILE`, else `NSFLEET_INVENTORY`, else `$XDG_CONFIG_HOME/nsfleet/hosts.yaml`
//! (`~/.config/nsfleet/hosts.yaml`). An explicitly named file must exist; the default one may not.
//!
//! YAML rather than TOML: the client already reads YAML topology files through a decoder that names
//! `FILE:LINE:COL` and suggests the key that was meant, and the inventory's bad input deserves the same
//! messages; one format for both files is one format for operators to know.
//!
//! Tokens are never written in the file, only where to find them (`token_file`, `token_env`): the
//! inventory is configuration, copied between machines and into repositories; a token is a secret.

mod check;
mod file;
mod resolve;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use check::{Access, Inventory, InventoryHost, TlsSettings, TokenSource};
pub use resolve::{inventory_host, resolve_hosts, ResolveError};

use crate::topology::yaml;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("inventory {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Where the inventory is, and whether the user named it (then it must exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPath {
    pub path: PathBuf,
    pub explicit: bool,
}

impl InventoryPath {
    /// `--inventory` (clap also fills it from `NSFLEET_INVENTORY`), else the XDG default; `None` when
    /// neither `XDG_CONFIG_HOME` nor `HOME` says where the default is.
    pub fn choose(given: Option<&Path>) -> Option<Self> {
        if let Some(path) = given {
            return Some(Self {
                path: path.to_path_buf(),
                explicit: true,
            });
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|value| !value.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })?;
        Some(Self {
            path: config.join("nsfleet").join("hosts.yaml"),
            explicit: false,
        })
    }

    /// The inventory, `None` if the default file does not exist or is not this user's to read.
    pub fn load(&self) -> Result<Option<Inventory>, InventoryError> {
        let file = self.path.display().to_string();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            // The default path lies under $HOME, which `sudo -u`, setpriv or a service may leave
            // pointing at another user's home that this user cannot enter: that is no inventory of
            // theirs, so it counts as absent like a missing file. A named file must be readable.
            Err(error)
                if !self.explicit
                    && matches!(
                        error.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) =>
            {
                return Ok(None)
            }
            Err(source) => return Err(InventoryError::Read { file, source }),
        };
        let base = self.path.parent().unwrap_or(Path::new("."));
        parse(&file, &text, base).map(Some)
    }
}

/// The chosen inventory if there is one, and else where the default would be (for messages).
pub fn load_chosen(
    given: Option<&Path>,
) -> Result<(Option<Inventory>, Option<String>), InventoryError> {
    let Some(chosen) = InventoryPath::choose(given) else {
        return Ok((None, None));
    };
    let inventory = chosen.load()?;
    let missing = inventory
        .is_none()
        .then(|| chosen.path.display().to_string());
    Ok((inventory, missing))
}

/// Checks `text` (the file `file`, whose relative paths are relative to `base`).
pub fn parse(file: &str, text: &str, base: &Path) -> Result<Inventory, InventoryError> {
    let invalid = |at: yaml::Pos, message: String| InventoryError::Invalid {
        file: file.to_owned(),
        line: at.line,
        column: at.column,
        message,
    };
    let parsed: file::InventoryFile = yaml::from_str(text)
        .map_err(|error| invalid(error.at.unwrap_or_default(), error.message))?;
    check::check(file, &parsed, base).map_err(|problem| invalid(problem.at, problem.message))
}
