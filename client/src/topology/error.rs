//! What can be wrong with a topology file, each problem at its place in it.

use std::fmt;

use super::yaml::Pos;

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// Every problem found, in file order (at most [`MAX_PROBLEMS`] of them).
    #[error("{}", Listed { file, problems })]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

/// Enough to fix a file in a few rounds without burying the first problem under a 1000-namespace
/// series' repeats of the same one.
pub const MAX_PROBLEMS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Pos,
    pub message: String,
}

impl Problem {
    pub fn new(at: Pos, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
        }
    }
}

/// The problems of one pass over the file.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, at: Pos, message: impl Into<String>) {
        self.0.push(Problem::new(at, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_error(mut self, file: &str) -> TopologyError {
        self.0.sort_by_key(|problem| problem.at);
        self.0.dedup();
        self.0.truncate(MAX_PROBLEMS);
        TopologyError::Invalid {
            file: file.to_owned(),
            problems: self.0,
        }
    }
}

struct Listed<'a> {
    file: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for Listed<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                formatter.write_str("\n")?;
            }
            write!(
                formatter,
                "{}:{}: {}",
                self.file, problem.at, problem.message
            )?;
        }
        Ok(())
    }
}
