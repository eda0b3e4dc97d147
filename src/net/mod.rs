//! net-in: the listening socket, every connection's reads, HTTP/1.1 framing → ring A.

pub mod http;
