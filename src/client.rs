//! The control-socket client used by `podinit hook`, `status` and `stop`: one request, one reply,
//! bounded in time so a wedged supervisor never hangs the runtime's call.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::proto::{self, ControlReply, ControlRequest};

#[derive(Debug)]
pub enum ClientError {
    /// Nobody listens (no supervisor): the hook's failure policy applies.
    Unreachable(String),
    Protocol(String),
    Refused(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(m) => write!(f, "supervisor unreachable: {m}"),
            ClientError::Protocol(m) => write!(f, "bad reply from the supervisor: {m}"),
            ClientError::Refused(m) => write!(f, "the supervisor refused: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

pub fn request(
    socket: &Path,
    req: &ControlRequest,
    timeout: Duration,
) -> Result<ControlReply, ClientError> {
    let reply = exchange(socket, req, timeout)?;
    if !reply.ok {
        return Err(ClientError::Refused(reply.error.unwrap_or_default()));
    }
    Ok(reply)
}

/// One request and its reply as it came, `ok: false` included (for a caller that answers a
/// refusal, as the hook answers `need_declaration`).
pub fn exchange(
    socket: &Path,
    req: &ControlRequest,
    timeout: Duration,
) -> Result<ControlReply, ClientError> {
    let stream = UnixStream::connect(socket)
        .map_err(|e| ClientError::Unreachable(format!("{}: {e}", socket.display())))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    (&stream)
        .write_all(&proto::encode(req))
        .map_err(|e| ClientError::Unreachable(format!("{}: {e}", socket.display())))?;
    let mut line = Vec::new();
    BufReader::new(&stream)
        .take(proto::MAX_LINE as u64 * 64)
        .read_until(b'\n', &mut line)
        .map_err(|e| ClientError::Unreachable(format!("{}: no reply: {e}", socket.display())))?;
    if line.is_empty() {
        return Err(ClientError::Protocol(
            "the connection closed without a reply".into(),
        ));
    }
    // Status replies may exceed a request line's limit; they come from our own supervisor.
    let value: serde_json::Value =
        serde_json::from_slice(&line).map_err(|e| ClientError::Protocol(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
}
