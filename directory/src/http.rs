//! The HTTP/1.1 transport: hyper on a small tokio runtime. It reads what a request says
//! (`server::Head`), asks `server::begin` (authentication, rate limit) before it reads any
//! body, reads the body through a length limit, and runs the SCIM work — which waits on locks
//! and fsync — on the blocking pool.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::error::ScimError;
use crate::server::{self, Endpoints, Head, Reply};
use crate::Shared;

/// Serves `listener` on a thread of its own until the process ends; `workers` bounds the
/// threads doing SCIM work at once.
pub fn spawn(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    workers: usize,
    endpoints: Endpoints,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(workers.max(1))
        .enable_io()
        .enable_time()
        .build()?;
    Ok(std::thread::spawn(move || {
        runtime.block_on(accept(listener, shared, addr, endpoints));
    }))
}

async fn accept(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    addr: SocketAddr,
    endpoints: Endpoints,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("listener: {e}");
            return;
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service =
                service_fn(move |request| respond(Arc::clone(&shared), addr, endpoints, request));
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn respond(
    shared: Arc<Shared>,
    addr: SocketAddr,
    endpoints: Endpoints,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let head = head(&parts.method, &parts.uri, &parts.headers);
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let reply = answer(Arc::clone(&shared), addr, endpoints, head, declared, body).await;
    shared.metrics.request(reply.status);
    Ok(response(reply))
}

async fn answer(
    shared: Arc<Shared>,
    addr: SocketAddr,
    endpoints: Endpoints,
    head: Head,
    declared: Option<u64>,
    body: Incoming,
) -> Reply {
    let internal = || Reply::error(&ScimError::internal());
    let (s, h) = (Arc::clone(&shared), head.clone());
    let authorized =
        match tokio::task::spawn_blocking(move || server::begin(&s, &h, endpoints)).await {
            Ok(Ok(authorized)) => authorized,
            Ok(Err(reply)) => return reply,
            Err(_) => return internal(),
        };
    let bytes = if head.has_body() {
        let limit = shared.limits.max_body_bytes;
        if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
            return Reply::error(&ScimError::too_large(limit));
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Some(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => {
                return Reply::error(&ScimError::too_large(limit))
            }
            Err(_) => {
                return Reply::error(&ScimError::invalid_syntax(
                    "the request body could not be read",
                ))
            }
        }
    } else {
        None
    };
    tokio::task::spawn_blocking(move || {
        server::finish(&shared, &head, &authorized, addr, bytes.as_deref())
    })
    .await
    .unwrap_or_else(|_| internal())
}

fn head(method: &hyper::Method, uri: &hyper::Uri, headers: &HeaderMap) -> Head {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Head {
        method: method.as_str().to_ascii_uppercase(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        authorization: text("authorization"),
        host: text("host"),
        forwarded_proto: text("x-forwarded-proto"),
        if_match: text("if-match"),
    }
}

fn response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if !reply.content_type.is_empty() {
        headers.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static(reply.content_type),
        );
    }
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}
