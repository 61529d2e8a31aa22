//! Chunked request bodies (RFC 9112 §7.1), as some source clients send them.

/// Decodes a chunked body (RFC 9112 §7.1), fed in any pieces.
#[derive(Debug, Default)]
pub(crate) struct Dechunker {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// Reading a size line.
    #[default]
    Size,
    /// `n` bytes of data left, then CRLF.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The last chunk was read (trailers are ignored).
    Done,
}

impl Dechunker {
    pub(crate) fn finished(&self) -> bool {
        self.state == ChunkState::Done
    }

    pub(crate) fn feed(&mut self, mut input: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::with_capacity(input.len());
        while !input.is_empty() {
            match self.state {
                ChunkState::Size => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(input);
                        if self.line.len() > 1024 {
                            return Err("a chunk size line is too long");
                        }
                        break;
                    };
                    self.line.extend_from_slice(&input[..end]);
                    input = &input[end + 1..];
                    let line = std::str::from_utf8(&self.line).map_err(|_| "a chunk size is not text")?;
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| "a chunk size is not hexadecimal")?;
                    self.line.clear();
                    self.state = if size == 0 { ChunkState::Done } else { ChunkState::Data(size) };
                }
                ChunkState::Data(left) => {
                    let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let left = left - take as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else { break };
                    input = &input[end + 1..];
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_whatever_the_pieces() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        for size in 1..body.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            for piece in body.chunks(size) {
                out.extend(d.feed(piece).unwrap());
            }
            assert_eq!(out, b"hello world", "pieces of {size}");
            assert!(d.finished());
        }
        assert!(Dechunker::default().feed(b"zz\r\n").is_err());
    }
}
