//! Kernel tests of the NAT backend. They need root and fail (never skip) without it; each runs in
//! throwaway network namespaces and leaves nothing behind.

mod conntrack_flush;
mod kept_context;
mod netns;
mod rules;
