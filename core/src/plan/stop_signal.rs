//! The plan's stop signal on the wire: `{"number": 15, "name": "SIGTERM"}`, as it was before
//! the plan held a [`Signal`], so a registration or a `welcome` reads the same to either side.

use serde::de::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::signal::Signal;

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    number: i32,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

pub fn serialize<S: Serializer>(signal: &Signal, s: S) -> Result<S::Ok, S::Error> {
    Wire {
        number: signal.number(),
        name: signal.name().unwrap_or_default().into(),
    }
    .serialize(s)
}

/// A stop signal is one of the named ones (`parse_signal`), and its name is its number's.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signal, D::Error> {
    let wire = Wire::deserialize(d)?;
    let signal = Signal::new(wire.number)
        .filter(|s| s.name().is_some())
        .ok_or_else(|| {
            D::Error::custom(format_args!(
                "stopSignal: {} is not a signal number",
                wire.number
            ))
        })?;
    if signal.name() != Some(&*wire.name) {
        return Err(D::Error::custom(format_args!(
            "stopSignal: {:?} is not the name of signal {}",
            wire.name, wire.number
        )));
    }
    Ok(signal)
}
