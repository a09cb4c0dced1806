//! Thin wrappers over the Linux calls podinit needs and nix does not cover (or covers only for
//! the standard signals). Every `unsafe` block carries a `// SAFETY:` comment; callers see safe
//! functions returning `nix::Result`.

pub mod fd;
pub mod mem;
pub mod pidfd;
pub mod prctl;
pub mod privileges;
pub mod procfs;
pub mod signal;
pub mod wait;
