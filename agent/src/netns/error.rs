use std::io;

use crate::domain::NamespaceRef;

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{namespace} does not exist")]
    NotFound { namespace: NamespaceRef },

    #[error(
        "{path} exists but is not a network namespace mount; if it is the empty file an interrupted creation \
         left, `netns del` removes it; otherwise remove the file or pick another name"
    )]
    NotANamespace { path: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    #[error("{context}: the namespace thread ended without an answer")]
    ThreadLost { context: String },
}

impl NetnsError {
    pub fn io(context: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Self::Io {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The same error, its context prefixed with `outer`.
    pub fn in_context(self, outer: &str) -> Self {
        match self {
            Self::Io { context, source } => Self::Io {
                context: format!("{outer}: {context}"),
                source,
            },
            Self::ThreadLost { context } => Self::ThreadLost {
                context: format!("{outer}: {context}"),
            },
            other => other,
        }
    }
}
