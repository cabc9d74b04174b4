//! One HTTP/1.1 GET on a connection of its own, for the two requests a
//! function makes itself: its secrets (the Lambda extension, on loopback)
//! and the JWKS. hyper's client, which lambda_runtime links anyway for the
//! Runtime API. Every connection, plain TCP or TLS, is boxed, so that
//! hyper's connection code is compiled once for all of them (the zips'
//! size, BENCHMARKS.md).

use http_body_util::{BodyExt, Empty};
use hyper::{
    Request, Response,
    body::{Body, Bytes, Incoming},
};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    task::JoinHandle,
};

/// A byte stream to an HTTP server: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// An answer whose body may still be arriving. Dropping it closes the
/// connection: nothing is read past what is wanted.
pub struct Answer {
    pub response: Response<Incoming>,
    _connection: Driver,
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Read(#[from] hyper::Error),
}

/// Sends `request` on `io`; the answer comes back as soon as its head has.
pub async fn get(io: Box<dyn Io>, request: Request<Empty<Bytes>>) -> hyper::Result<Answer> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    // The connection is driven beside the request, and ends with the answer.
    let driver = Driver(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await?;
    Ok(Answer {
        response,
        _connection: driver,
    })
}

impl Answer {
    /// The whole body, or `TooLarge` once it is known to pass `max` bytes:
    /// by its `Content-Length` before reading, else while it streams (an
    /// answer without one is cut off at the cap, not read whole first).
    pub async fn body(self, max: usize) -> Result<Vec<u8>, BodyError> {
        let mut body = self.response.into_body();
        if body.size_hint().exact().is_some_and(|n| n > max as u64) {
            return Err(BodyError::TooLarge(max));
        }
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(chunk) = frame?.into_data() else {
                continue; // trailers
            };
            if bytes.len() + chunk.len() > max {
                return Err(BodyError::TooLarge(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// The task driving a connection, stopped (and the socket closed) when
/// the answer is dropped, read or not.
struct Driver(JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}
