/// What a mutation did: its result, whether the kernel's state changed, and problems the kernel accepted.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub changed: bool,
    pub warnings: Vec<Warning>,
}

impl<T> Outcome<T> {
    pub fn changed(value: T) -> Self {
        Self { value, changed: true, warnings: Vec::new() }
    }

    pub fn unchanged(value: T) -> Self {
        Self { value, changed: false, warnings: Vec::new() }
    }

    pub fn with_warnings(mut self, warnings: Vec<Warning>) -> Self {
        self.warnings.extend(warnings);
        self
    }
}

/// A request that succeeded but leaves traffic broken, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}
