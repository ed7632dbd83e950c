/// Scope of an address or route (RT_SCOPE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    /// A value the kernel reported that has no name here.
    Other(u8),
}

impl Scope {
    pub fn to_kernel(self) -> u8 {
        match self {
            Self::Global => 0,
            Self::Site => 200,
            Self::Link => 253,
            Self::Host => 254,
            Self::Nowhere => 255,
            Self::Other(value) => value,
        }
    }

    pub fn from_kernel(value: u8) -> Self {
        match value {
            0 => Self::Global,
            200 => Self::Site,
            253 => Self::Link,
            254 => Self::Host,
            255 => Self::Nowhere,
            other => Self::Other(other),
        }
    }
}
