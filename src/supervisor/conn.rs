//! One client connection: non-blocking, line-delimited, with hard limits so a misbehaving client
//! cannot stall the supervisor or other containers (documented in `docs/protocol.md`):
//! - a line longer than the side's limit ([`proto::MAX_CONTROL_LINE`],
//!   [`proto::MAX_INIT_LINE`]) closes the connection;
//! - replies the client does not read pile up to at most [`MAX_PENDING_OUTPUT`], then the
//!   connection is closed;
//! - at most [`MAX_CONNECTIONS`] connections; past that an unidentified connection is dropped
//!   (an init identifies itself with its first line, so only idle or garbage clients are ever
//!   evicted; which one, and the per-peer limit, in `admission.rs`).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

use crate::framing::Deframer;
use crate::proto;

pub const MAX_PENDING_OUTPUT: usize = 1 << 20;
pub const MAX_CONNECTIONS: usize = 256;
const READ_CHUNK: usize = 16 * 1024;
/// Bytes read from one connection per wakeup; the rest on the next one.
const READ_PER_WAKEUP: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Hooks and the CLI.
    Control,
    /// A container's `podinit exec`.
    Init,
}

impl Side {
    pub fn max_line(self) -> usize {
        match self {
            Side::Control => proto::MAX_CONTROL_LINE,
            Side::Init => proto::MAX_INIT_LINE,
        }
    }
}

pub struct Conn {
    pub stream: UnixStream,
    pub side: Side,
    /// For an init connection: the container it acts for, once identified by its peer pid.
    pub container: Option<super::pod::Member>,
    /// Accept order, for evicting the oldest unidentified connection.
    pub serial: u64,
    /// For an init connection: who connected (`admission.rs`), for the per-peer limit.
    pub peer: Option<u64>,
    inbuf: Deframer,
    outbuf: Vec<u8>,
    /// Whether the epoll registration asks for EPOLLOUT (output waits for the peer).
    out_armed: bool,
    /// In the supervisor's list of connections to flush once the event in hand is handled.
    pub flush_due: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConnError {
    Closed,
    LineTooLong,
    NotReading,
    Io(ErrorKind),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed => write!(f, "closed by the peer"),
            ConnError::LineTooLong => write!(f, "a line longer than the socket's limit"),
            ConnError::NotReading => write!(
                f,
                "more than {MAX_PENDING_OUTPUT} bytes of replies not read"
            ),
            ConnError::Io(k) => write!(f, "I/O error: {k}"),
        }
    }
}

impl Conn {
    pub fn new(
        stream: UnixStream,
        side: Side,
        serial: u64,
        peer: Option<u64>,
    ) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            side,
            container: None,
            serial,
            peer,
            inbuf: Deframer::new(side.max_line()),
            outbuf: Vec::new(),
            out_armed: false,
            flush_due: false,
        })
    }

    /// Read what is available; return the complete lines. `Err(Closed)` after the last line of a
    /// peer that hung up.
    pub fn read_lines(&mut self) -> Result<Vec<Vec<u8>>, ConnError> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut lines = Vec::new();
        let mut read = 0usize;
        let mut closed = false;
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    self.inbuf.push(&chunk[..n]);
                    // Framed after every read, so an overlong line ends the connection before
                    // the next read instead of after a megabyte of garbage.
                    while let Some(line) = self.inbuf.next_line() {
                        let line = line.map_err(|_| ConnError::LineTooLong)?;
                        if !line.iter().all(u8::is_ascii_whitespace) {
                            lines.push(line);
                        }
                    }
                    // Bound the work per wakeup so one chatty client cannot starve the others.
                    read += n;
                    if read > READ_PER_WAKEUP {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e.kind())),
            }
        }
        if closed && lines.is_empty() {
            return Err(ConnError::Closed);
        }
        Ok(lines)
    }

    /// Adds `bytes` to what goes out at the next [`Self::flush`]: what the supervisor sends
    /// while it handles one event leaves in one write, so the peer wakes once for it (a
    /// welcome and its release were two writes, each waking the init, which preempted the
    /// supervisor to read it). What the socket does not take then is bounded by
    /// [`MAX_PENDING_OUTPUT`] in [`Self::flush`].
    pub fn queue(&mut self, bytes: &[u8]) {
        self.outbuf.extend_from_slice(bytes);
    }

    /// Whether the epoll registration must change after a flush: `Some(wants EPOLLOUT)`.
    pub fn interest_change(&mut self) -> Option<bool> {
        let wants = self.wants_write();
        (wants != self.out_armed).then(|| {
            self.out_armed = wants;
            wants
        })
    }

    /// Write what the socket takes now; the rest waits for EPOLLOUT.
    pub fn flush(&mut self) -> Result<(), ConnError> {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return Err(ConnError::Closed),
                Err(e) => return Err(ConnError::Io(e.kind())),
            }
        }
        if self.outbuf.len() > MAX_PENDING_OUTPUT {
            return Err(ConnError::NotReading);
        }
        Ok(())
    }

    pub fn wants_write(&self) -> bool {
        !self.outbuf.is_empty()
    }
}
