//! Dropping privileges the supervisor no longer needs once its sockets are bound (SPEC section
//! 6): what is left is `CAP_KILL`, to signal the inits of containers running as other users
//! through their pidfds. The bounding set is reduced too, so nothing it starts could regain more.

use caps::{CapSet, Capability, CapsHashSet};

pub fn keep_only(keep: &[Capability]) -> Result<(), caps::errors::CapsError> {
    let keep: CapsHashSet = keep.iter().copied().collect();
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    // Ambient and inheritable first: they may only hold what permitted holds.
    caps::clear(None, CapSet::Ambient)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())?;
    let permitted: CapsHashSet = caps::read(None, CapSet::Permitted)?
        .intersection(&keep)
        .copied()
        .collect();
    caps::set(None, CapSet::Effective, &permitted)?;
    caps::set(None, CapSet::Permitted, &permitted)?;
    Ok(())
}
