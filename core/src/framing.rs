//! Newline-delimited framing, sans-IO: bytes in as they arrive ([`Deframer::push`]), complete
//! lines out ([`Deframer::next_line`]). The one framer behind every line-oriented stream podinit
//! reads without blocking: the supervisor's connections (`supervisor/conn.rs`), the in-container
//! init's supervisor link (`init/managed.rs`), and the VM host's console and control channel
//! (`vm/host.rs`). Each had its own copy; the copies rescanned the whole buffer for a newline
//! after every read and shifted it after every line, quadratic in a line that arrives in many
//! reads, and each capped its buffer differently.
//!
//! Invariants, between calls:
//! - `buf[..head]` is consumed (lines already returned), kept only until the next `push`
//!   compacts it, so returning a line never moves the bytes after it;
//! - `buf[head..scanned]` holds no `\n`: a later search starts at `scanned`, so every byte is
//!   searched once however many reads a line takes;
//! - `buf.len() - head <= max_line` unless a newline is in `buf[scanned..]`: a line past the
//!   limit is reported once ([`TooLong`]) and its bytes dropped up to its `\n` (`skipping`),
//!   so memory stays bounded by the limit plus one read, and a caller that does not close the
//!   stream resumes at the next line.

/// A line longer than the framer's limit. The caller closes the stream (a protocol peer) or
/// keeps reading, with the rest of that line dropped (a console).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// The limit the line went past.
    pub max_line: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a line longer than {} bytes", self.max_line)
    }
}

impl std::error::Error for TooLong {}

#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    head: usize,
    scanned: usize,
    max_line: usize,
    /// Dropping the rest of a line already reported too long, up to and including its `\n`.
    skipping: bool,
}

impl Deframer {
    /// Lines of at most `max_line` bytes, the `\n` not counted.
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            head: 0,
            scanned: 0,
            max_line,
            skipping: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.scanned -= self.head;
            self.head = 0;
        }
        if !self.skipping {
            self.buf.extend_from_slice(bytes);
        } else if let Some(i) = bytes.iter().position(|b| *b == b'\n') {
            self.skipping = false;
            self.buf.extend_from_slice(&bytes[i + 1..]);
        }
    }

    /// The next complete line without its `\n`, `Err(TooLong)` once for a line past the limit,
    /// `None` until more bytes come.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, TooLong>> {
        let too_long = TooLong {
            max_line: self.max_line,
        };
        match self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                let line = &self.buf[self.head..end];
                let out = (line.len() <= self.max_line).then(|| line.to_vec());
                self.head = end + 1;
                self.scanned = self.head;
                Some(out.ok_or(too_long))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.head > self.max_line {
                    self.buf.truncate(self.head);
                    self.scanned = self.head;
                    self.skipping = true;
                    Some(Err(too_long))
                } else {
                    None
                }
            }
        }
    }

    /// Bytes of an unfinished line held (a stream that ends here ended mid-line).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Feeds `chunks` one push at a time, collecting every line (`!` for a `TooLong`) after each.
    fn frame(max_line: usize, chunks: &[&[u8]]) -> (Vec<String>, usize) {
        let mut d = Deframer::new(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            d.push(chunk);
            while let Some(line) = d.next_line() {
                out.push(match line {
                    Ok(l) => String::from_utf8(l).unwrap(),
                    Err(_) => "!".to_owned(),
                });
            }
        }
        (out, d.pending())
    }

    #[rstest]
    #[case::one_line_one_read(&["ab\n"], &["ab"], 0)]
    #[case::two_lines_one_read(&["ab\ncd\n"], &["ab", "cd"], 0)]
    #[case::a_line_across_reads(&["a", "b", "c\nd"], &["abc"], 1)]
    #[case::an_empty_line_is_a_line(&["\n\n"], &["", ""], 0)]
    #[case::no_newline_yet(&["abc"], &[], 3)]
    #[case::exactly_the_limit(&["abcd\n"], &["abcd"], 0)]
    #[case::past_the_limit_with_its_newline(&["abcde\nok\n"], &["!", "ok"], 0)]
    #[case::past_the_limit_before_its_newline(&["abcde", "fgh\nok\n"], &["!", "ok"], 0)]
    #[case::past_the_limit_reported_once(&["abcde", "fgh", "ijk", "\nok\n"], &["!", "ok"], 0)]
    #[case::the_newline_in_the_read_after_the_overflow(&["abcde", "\nok\n"], &["!", "ok"], 0)]
    #[case::lines_before_the_overflow_come_first(&["ab\nabcdefg"], &["ab", "!"], 0)]
    #[case::carriage_returns_are_bytes(&["a\r\n"], &["a\r"], 0)]
    fn frames_lines(#[case] chunks: &[&str], #[case] lines: &[&str], #[case] pending: usize) {
        let chunks: Vec<&[u8]> = chunks.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(
            frame(4, &chunks),
            (lines.iter().map(|s| s.to_string()).collect(), pending)
        );
    }

    #[test]
    fn every_split_of_a_stream_frames_it_the_same() {
        let stream = b"first\n\nsecond line\nthis one is far too long\nlast\ntail";
        let whole = frame(12, &[&stream[..]]);
        assert_eq!(
            whole,
            (
                vec!["first", "", "second line", "!", "last"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                4
            )
        );
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let chunks = [&stream[..a], &stream[a..b], &stream[b..]];
                assert_eq!(frame(12, &chunks), whole, "split at {a} and {b}");
            }
        }
    }

    #[test]
    fn memory_stays_bounded_by_the_limit_while_a_line_never_ends() {
        let mut d = Deframer::new(1024);
        let mut reported = 0;
        for _ in 0..1000 {
            d.push(&[b'x'; 4096]);
            while let Some(line) = d.next_line() {
                assert!(line.is_err());
                reported += 1;
            }
            assert!(d.buf.capacity() <= 2 * 4096 + 1024, "{}", d.buf.capacity());
        }
        assert_eq!(reported, 1);
        d.push(b"\nok\n");
        assert_eq!(d.next_line(), Some(Ok(b"ok".to_vec())));
    }

    #[test]
    fn a_line_in_many_reads_is_searched_once() {
        // 1 MiB in 1-byte reads: quadratic rescanning would take seconds, this takes ms.
        let mut d = Deframer::new(1 << 20);
        for _ in 0..(1 << 20) {
            d.push(b"y");
            assert_eq!(d.next_line(), None);
        }
        d.push(b"\n");
        assert_eq!(d.next_line().map(|l| l.map(|l| l.len())), Some(Ok(1 << 20)));
    }
}
