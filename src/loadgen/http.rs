//! The HTTP/1.1 client side the load generator needs, and no more: connect with a bound, read
//! pipelined answers off one keep-alive connection in order (`Content-Length` framing, which
//! ringex always sends), and the setup's "send these, read their answers" exchange.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection attempt may take before the target counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);

/// How long the setup waits for one answer before it gives up on the server.
const SETUP_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers an answer may carry.
const HEADERS_MAX: usize = 32;

/// One HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body (the whole `Content-Length`).
    pub body: Vec<u8>,
    /// The answer's length on the wire, head and body.
    pub length_bytes: usize,
}

impl Answer {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A rejection's reason: status, code and message of ringex's error body, numbers in the
    /// message replaced by `N` so that rejections of one kind count together
    /// (`400 INVALID_ORDER Order with client ID already exists: N`).
    pub fn reason(&self) -> String {
        let json = self.json();
        let field =
            |name: &str| json.as_ref().and_then(|json| json[name].as_str().map(str::to_string));
        let code = field("code").unwrap_or_else(|| "-".into());
        let message = field("message")
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).chars().take(60).collect());
        let mut normalised = String::with_capacity(message.len());
        for c in message.chars() {
            if !c.is_ascii_digit() {
                normalised.push(c);
            } else if !normalised.ends_with('N') {
                normalised.push('N');
            }
        }
        format!("{} {code} {normalised}", self.status)
    }
}

/// Answers read off one connection, in the order the requests were sent.
pub struct AnswerReader {
    buffer: Vec<u8>,
    /// Where the unparsed bytes start.
    start: usize,
}

impl Default for AnswerReader {
    fn default() -> Self {
        Self::new()
    }
}

impl AnswerReader {
    /// An empty reader.
    pub fn new() -> AnswerReader {
        AnswerReader { buffer: Vec::with_capacity(1 << 16), start: 0 }
    }

    /// Reads what the socket has (blocking up to its read timeout); `Ok(0)` is the peer's close.
    pub fn fill(&mut self, stream: &mut impl Read) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start > (1 << 16) {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let length = self.buffer.len();
        self.buffer.resize(length + (1 << 16), 0);
        let read = stream.read(&mut self.buffer[length..]);
        self.buffer.truncate(length + *read.as_ref().unwrap_or(&0));
        read
    }

    /// The next whole answer in the buffer, if there is one.
    pub fn next_answer(&mut self) -> io::Result<Option<Answer>> {
        let bytes = &self.buffer[self.start..];
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut response = httparse::Response::new(&mut headers);
        let head_length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => return Err(invalid(format!("malformed answer: {error}"))),
        };
        let status = response.code.unwrap_or(0);
        let content_length = response
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-length"))
            .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse::<usize>().ok())
            .ok_or_else(|| invalid("an answer without Content-Length".into()))?;
        let total = head_length + content_length;
        if bytes.len() < total {
            return Ok(None);
        }
        let body = bytes[head_length..total].to_vec();
        self.start += total;
        Ok(Some(Answer { status, body, length_bytes: total }))
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Resolves `target` (`host:port`) and connects within [`CONNECT_TIMEOUT`], Nagle off.
pub fn connect(target: &str) -> io::Result<TcpStream> {
    let addresses: Vec<SocketAddr> = target.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Sends `requests` pipelined on one new connection and returns their answers in order. A
/// second thread writes while this one reads, so neither side's buffers can deadlock the
/// exchange however many requests there are.
pub fn exchange(target: &str, requests: &[Vec<u8>]) -> io::Result<Vec<Answer>> {
    let mut stream = connect(target)?;
    stream.set_read_timeout(Some(SETUP_READ_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    std::thread::scope(|scope| {
        let written = scope.spawn(move || -> io::Result<()> {
            for request in requests {
                writer.write_all(request)?;
            }
            Ok(())
        });
        let mut reader = AnswerReader::new();
        let mut answers = Vec::with_capacity(requests.len());
        while answers.len() < requests.len() {
            if let Some(answer) = reader.next_answer()? {
                answers.push(answer);
                continue;
            }
            if reader.fill(&mut stream)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the server closed the connection after {} answers", answers.len()),
                ));
            }
        }
        written.join().expect("the setup writer does not panic")?;
        Ok(answers)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> String {
        format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn pipelined_answers_are_read_whole_and_in_order_across_reads() {
        let text = answer(200, "{}") + &answer(400, r#"{"code":"C","message":"m"}"#);
        let bytes = text.as_bytes();
        let mut reader = AnswerReader::new();
        // Fed in small pieces: never an answer before its last byte.
        let mut answers = Vec::new();
        for piece in bytes.chunks(7) {
            reader.fill(&mut &piece[..]).unwrap();
            while let Some(answer) = reader.next_answer().unwrap() {
                answers.push(answer);
            }
        }
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].status, 200);
        assert_eq!(answers[0].body, b"{}");
        assert_eq!(answers[0].length_bytes, answer(200, "{}").len());
        assert_eq!(answers[1].status, 400);
        assert_eq!(answers[1].reason(), "400 C m");
    }

    #[test]
    fn a_reason_names_status_code_and_message_with_numbers_folded() {
        let body =
            r#"{"code":"INVALID_ORDER","message":"Order with client ID already exists: 42"}"#;
        let answer = Answer { status: 400, body: body.as_bytes().to_vec(), length_bytes: 0 };
        assert_eq!(answer.reason(), "400 INVALID_ORDER Order with client ID already exists: N");
        let plain = Answer { status: 502, body: b"bad gateway".to_vec(), length_bytes: 0 };
        assert_eq!(plain.reason(), "502 - bad gateway");
    }

    #[test]
    fn an_answer_without_length_is_an_error() {
        let mut reader = AnswerReader::new();
        reader.fill(&mut &b"HTTP/1.1 200 OK\r\n\r\n"[..]).unwrap();
        assert!(reader.next_answer().is_err());
    }
}
