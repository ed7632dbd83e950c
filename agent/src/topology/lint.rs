//! Lint at plan time: what the kernel accepts but leaves traffic broken, each with its fix.

use crate::ops::Warning;

use super::desired::Desired;
use super::observe::Observed;

pub fn lint(_desired: &Desired, _observed: &Observed) -> Vec<Warning> {
    Vec::new()
}
