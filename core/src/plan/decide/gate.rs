//! What the containers behind this one in the start sequence wait for it to reach.

use super::super::{GateOn, Kind, StartSlot};

pub fn gate_on(kind: Kind, start: StartSlot, has_readiness_probe: bool) -> GateOn {
    match (kind, start) {
        (Kind::Init, _) => GateOn::ExitZero,
        // KEP-753: readiness does not gate the init sequence; started (+startupProbe) does.
        (_, StartSlot::Init { .. }) => GateOn::Started,
        // ECI: a container waits for the higher-priority ones to be Ready where they have a
        // readiness probe; env-dialect sidecars gate the apps the same way.
        (_, StartSlot::Regular { .. }) if has_readiness_probe => GateOn::Ready,
        _ => GateOn::Started,
    }
}
