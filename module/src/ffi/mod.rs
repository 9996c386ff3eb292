//! The one place `unsafe` is allowed: Envoy's dynamic-module C ABI (`sys`), the hooks this
//! library exports to Envoy, and safe types over the callbacks it imports. Everything above
//! this module is safe Rust: it implements [`FilterConfig`] and [`HttpFilter`] and calls
//! [`EnvoyFilter`] and [`EnvoyConfig`].
//!
//! Ownership across the boundary (`sys` documents each item):
//! - a configuration is a `Box<C>` handed to Envoy as a raw pointer by `config_new` and taken
//!   back by `config_destroy`; Envoy shares it between its worker threads, so `C: Sync`;
//! - a stream's filter is a `Box<Stream<F>>` handed to Envoy by `filter_new` and taken back by
//!   `filter_destroy`; Envoy calls its hooks on one worker thread, one at a time;
//! - every buffer Envoy passes in is copied before the hook returns; every buffer the module
//!   passes out lives across the call.
//!
//! A panic never crosses into Envoy: each hook runs under `catch_unwind`. A panic while deciding
//! a request denies it ([`FilterConfig::PANIC_REPLY`]), one after the request went on resets
//! the stream, and the stream's later hooks do nothing more than hold it. The configuration is
//! poisoned too: whatever state the panic left half-changed, no later request of it is decided
//! with it; each gets the same denial until Envoy loads another configuration (a bundle push),
//! as a wasm VM that panicked fails every request after it. (The module is built with
//! `panic = "unwind"` for this: `scripts/lib.sh`, `build_module`.)

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod sys;

#[cfg(any(test, feature = "fake-envoy"))]
pub mod fake;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sys::*;

/// The ABI version this module is built for, as it reports it to Envoy (without the NUL).
pub const ABI_VERSION: &str = match ABI_VERSION_C.split_last() {
    Some((0, rest)) => match core::str::from_utf8(rest) {
        Ok(version) => version,
        Err(_) => "",
    },
    _ => "",
};
const ABI_VERSION_C: &[u8] = sys::ABI_VERSION.as_bytes();

/// A configuration of the filter (one per `DynamicModuleFilter` Envoy loads), shared by every
/// worker.
pub trait FilterConfig: Sized + Send + Sync + 'static {
    type Filter: HttpFilter;

    /// What a request whose decision panicked gets: status, content type, body.
    const PANIC_REPLY: (u32, &'static str, &'static str);

    /// On Envoy's main thread. `None` refuses the configuration (Envoy keeps the previous one).
    fn new(envoy: &EnvoyConfig, name: &[u8], config: &[u8]) -> Option<Self>;

    /// On a worker thread: a stream begins.
    fn new_filter(&self, envoy: EnvoyFilter) -> Self::Filter;
}

/// What a hook asks Envoy to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Continue,
    /// Headers: hold them (the body still comes to the filter). Body: hold and buffer it.
    /// After a local reply or a reset: hold the stream.
    Stop,
}

/// One stream's filter. Every hook runs on the stream's worker thread.
pub trait HttpFilter: 'static {
    fn request_headers(&mut self, end_of_stream: bool) -> Status;
    fn request_body(&mut self, end_of_stream: bool) -> Status;
    fn request_trailers(&mut self) -> Status;
    fn response_headers(&mut self, end_of_stream: bool) -> Status;
    fn response_body(&mut self, end_of_stream: bool) -> Status;
    fn response_trailers(&mut self) -> Status;
    /// Before the stream is destroyed and its access log written.
    fn complete(&mut self) {}
}

/// Which header map a header call acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    Request,
    Response,
}

impl Headers {
    fn abi(self) -> envoy_dynamic_module_type_http_header_type {
        match self {
            Headers::Request => envoy_dynamic_module_type_http_header_type_RequestHeader,
            Headers::Response => envoy_dynamic_module_type_http_header_type_ResponseHeader,
        }
    }
}

/// Which body a body call acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    /// (received in the current body hook, buffered by earlier ones)
    fn abi(
        self,
    ) -> (
        envoy_dynamic_module_type_http_body_type,
        envoy_dynamic_module_type_http_body_type,
    ) {
        match self {
            Direction::Request => (
                envoy_dynamic_module_type_http_body_type_ReceivedRequestBody,
                envoy_dynamic_module_type_http_body_type_BufferedRequestBody,
            ),
            Direction::Response => (
                envoy_dynamic_module_type_http_body_type_ReceivedResponseBody,
                envoy_dynamic_module_type_http_body_type_BufferedResponseBody,
            ),
        }
    }
}

/// A bytes view the module owns, for the duration of one call.
fn module_buffer(bytes: &[u8]) -> envoy_dynamic_module_type_module_buffer {
    envoy_dynamic_module_type_module_buffer {
        ptr: bytes.as_ptr().cast(),
        length: bytes.len(),
    }
}

/// The null value: `set_header` with it removes the header.
const NULL_BUFFER: envoy_dynamic_module_type_module_buffer =
    envoy_dynamic_module_type_module_buffer {
        ptr: core::ptr::null(),
        length: 0,
    };

/// Copies an Envoy-owned view.
///
/// # Safety
/// `ptr` is null or points to `length` readable bytes for the duration of the call.
unsafe fn copy_envoy(ptr: envoy_dynamic_module_type_buffer_envoy_ptr, length: usize) -> Vec<u8> {
    if ptr.is_null() || length == 0 {
        return Vec::new();
    }
    // SAFETY: the caller promises `length` readable bytes at a non-null `ptr`.
    unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), length) }.to_vec()
}

/// The Envoy side of one configuration, during `config_new` (metrics are defined there only).
#[derive(Debug)]
pub struct EnvoyConfig {
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
}

impl EnvoyConfig {
    /// A counter of this configuration; `None` if Envoy refused it (metrics never decide).
    pub fn define_counter(&self, name: &str) -> Option<usize> {
        let mut id = 0usize;
        // SAFETY: `self.ptr` is the configuration pointer Envoy passed to the running
        // `config_new`; `name` lives across the call, no labels are passed (null, 0), and `id`
        // is a valid place for Envoy to write the id.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.ptr,
                module_buffer(name.as_bytes()),
                core::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        (result == envoy_dynamic_module_type_metrics_result_Success).then_some(id)
    }

    /// A gauge of this configuration; `None` if Envoy refused it.
    pub fn define_gauge(&self, name: &str) -> Option<usize> {
        let mut id = 0usize;
        // SAFETY: as in `define_counter`.
        let result = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_gauge(
                self.ptr,
                module_buffer(name.as_bytes()),
                core::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        (result == envoy_dynamic_module_type_metrics_result_Success).then_some(id)
    }

    /// Adds to a counter of this configuration outside any stream (bundle loads).
    pub fn increment_counter(&self, id: Option<usize>, value: u64) {
        if let Some(id) = id {
            // SAFETY: `self.ptr` is this configuration's Envoy pointer, valid during
            // `config_new`; `id` came from `define_counter` on it; no labels.
            unsafe {
                envoy_dynamic_module_callback_http_filter_config_increment_counter(
                    self.ptr,
                    id,
                    core::ptr::null_mut(),
                    0,
                    value,
                );
            }
        }
    }

    /// Sets a gauge of this configuration outside any stream.
    pub fn set_gauge(&self, id: Option<usize>, value: u64) {
        if let Some(id) = id {
            // SAFETY: as in `increment_counter`.
            unsafe {
                envoy_dynamic_module_callback_http_filter_config_set_gauge(
                    self.ptr,
                    id,
                    core::ptr::null_mut(),
                    0,
                    value,
                );
            }
        }
    }
}

/// The Envoy side of one stream. Valid from `filter_new` until `filter_destroy`, on the stream's
/// worker thread only (a raw pointer: neither `Send` nor `Sync`).
#[derive(Debug)]
pub struct EnvoyFilter {
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
}

impl EnvoyFilter {
    /// Every header of `map`, names and values copied (in Envoy's order; a header with several
    /// values is one entry per value). Empty when the map is not available.
    pub fn headers(&self, map: Headers) -> Vec<(Vec<u8>, Vec<u8>)> {
        // SAFETY: `self.ptr` is this stream's Envoy pointer, alive until `filter_destroy`, and
        // this runs inside one of its hooks on its worker thread.
        let count =
            unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.ptr, map.abi()) };
        if count == 0 {
            return Vec::new();
        }
        let empty = envoy_dynamic_module_type_envoy_http_header {
            key_ptr: core::ptr::null(),
            key_length: 0,
            value_ptr: core::ptr::null(),
            value_length: 0,
        };
        let mut raw = vec![empty; count];
        // SAFETY: `raw` has room for the `count` entries Envoy just reported for this map, and
        // nothing changes the map between the two calls (same hook, same thread).
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_headers(self.ptr, map.abi(), raw.as_mut_ptr())
        };
        if !ok {
            return Vec::new();
        }
        raw.iter()
            .map(|h| {
                // SAFETY: Envoy filled each entry with views into its header map, valid until the
                // hook returns or a setter is called; both are copied now.
                unsafe {
                    (
                        copy_envoy(h.key_ptr, h.key_length),
                        copy_envoy(h.value_ptr, h.value_length),
                    )
                }
            })
            .collect()
    }

    /// The first value of header `name` of `map` (`None`: absent).
    pub fn header(&self, map: Headers, name: &str) -> Option<Vec<u8>> {
        let mut value = envoy_dynamic_module_type_envoy_buffer {
            ptr: core::ptr::null(),
            length: 0,
        };
        let mut count = 0usize;
        // SAFETY: `self.ptr` is alive (see `headers`); `name` lives across the call; `value`
        // and `count` are valid places for Envoy to write to.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_header(
                self.ptr,
                map.abi(),
                module_buffer(name.as_bytes()),
                &mut value,
                0,
                &mut count,
            )
        };
        if !ok || count == 0 || value.ptr.is_null() {
            return None;
        }
        // SAFETY: Envoy wrote a view of the value, valid until the hook returns; copied now.
        Some(unsafe { copy_envoy(value.ptr, value.length) })
    }

    /// Sets header `name` of `map` to `value`, replacing every value it had.
    pub fn set_header(&self, map: Headers, name: &str, value: &str) -> bool {
        // SAFETY: `self.ptr` is alive; both buffers live across the call.
        unsafe {
            envoy_dynamic_module_callback_http_set_header(
                self.ptr,
                map.abi(),
                module_buffer(name.as_bytes()),
                module_buffer(value.as_bytes()),
            )
        }
    }

    /// Removes every value of header `name` of `map` (the ABI's null value).
    pub fn remove_header(&self, map: Headers, name: &str) -> bool {
        // SAFETY: `self.ptr` is alive; `name` lives across the call; the null value is the
        // ABI's way to remove.
        unsafe {
            envoy_dynamic_module_callback_http_set_header(
                self.ptr,
                map.abi(),
                module_buffer(name.as_bytes()),
                NULL_BUFFER,
            )
        }
    }

    /// The bytes of the body of `direction` so far: what earlier body hooks buffered, then the
    /// chunk of the current hook (not twice when an earlier filter buffered and resumed).
    /// `None` when Envoy reports slices it then does not hand over.
    pub fn body(&self, direction: Direction) -> Option<Vec<u8>> {
        let (received, buffered) = direction.abi();
        let mut out = self.chunks(buffered)?;
        if !self.received_is_buffered(direction) {
            out.extend_from_slice(&self.chunks(received)?);
        }
        Some(out)
    }

    /// The size of what [`EnvoyFilter::body`] would return.
    pub fn body_size(&self, direction: Direction) -> usize {
        let (received, buffered) = direction.abi();
        // SAFETY: `self.ptr` is alive.
        let size =
            |body| unsafe { envoy_dynamic_module_callback_http_get_body_size(self.ptr, body) };
        if self.received_is_buffered(direction) {
            size(buffered)
        } else {
            size(buffered).saturating_add(size(received))
        }
    }

    /// Whether the chunk of the current body hook is the buffered body itself (an earlier filter
    /// buffered it and resumed), so it must not be read twice.
    fn received_is_buffered(&self, direction: Direction) -> bool {
        // SAFETY: `self.ptr` is alive.
        unsafe {
            match direction {
                Direction::Request => {
                    envoy_dynamic_module_callback_http_received_buffered_request_body(self.ptr)
                }
                Direction::Response => {
                    envoy_dynamic_module_callback_http_received_buffered_response_body(self.ptr)
                }
            }
        }
    }

    /// Every slice of `body`, copied in order; `None` when Envoy reports slices and then fails
    /// to hand them over.
    fn chunks(&self, body: envoy_dynamic_module_type_http_body_type) -> Option<Vec<u8>> {
        // SAFETY: `self.ptr` is alive.
        let count =
            unsafe { envoy_dynamic_module_callback_http_get_body_chunks_size(self.ptr, body) };
        if count == 0 {
            return Some(Vec::new());
        }
        let mut views = vec![
            envoy_dynamic_module_type_envoy_buffer {
                ptr: core::ptr::null(),
                length: 0,
            };
            count
        ];
        // SAFETY: `views` has room for the `count` slices Envoy just reported for this body.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_body_chunks(self.ptr, body, views.as_mut_ptr())
        };
        if !ok {
            return None;
        }
        let mut out = Vec::with_capacity(views.iter().map(|v| v.length).sum());
        for view in views.iter().filter(|v| !v.ptr.is_null() && v.length > 0) {
            // SAFETY: each view points to `length` bytes of Envoy's buffer, valid until the hook
            // returns or the body changes; copied now.
            out.extend_from_slice(unsafe {
                core::slice::from_raw_parts(view.ptr.cast::<u8>(), view.length)
            });
        }
        Some(out)
    }

    /// Replaces the whole body of `direction` seen so far (buffered and current chunk) with
    /// `bytes`.
    pub fn replace_body(&self, direction: Direction, bytes: &[u8]) -> bool {
        let (received, buffered) = direction.abi();
        // SAFETY: `self.ptr` is alive; draining more than a body holds drains it all (ABI); a
        // body that is not available reports false, which only matters for the append.
        unsafe {
            let buffered_size =
                envoy_dynamic_module_callback_http_get_body_size(self.ptr, buffered);
            if buffered_size > 0 {
                envoy_dynamic_module_callback_http_drain_body(self.ptr, buffered, buffered_size);
            }
            let received_size =
                envoy_dynamic_module_callback_http_get_body_size(self.ptr, received);
            if received_size > 0 {
                envoy_dynamic_module_callback_http_drain_body(self.ptr, received, received_size);
            }
            if bytes.is_empty() {
                return true;
            }
            envoy_dynamic_module_callback_http_append_body(self.ptr, received, module_buffer(bytes))
                || envoy_dynamic_module_callback_http_append_body(
                    self.ptr,
                    buffered,
                    module_buffer(bytes),
                )
        }
    }

    /// A local reply in place of the upstream's.
    pub fn send_response(&self, status: u32, headers: &[(&str, &str)], body: &[u8]) {
        let mut raw: Vec<envoy_dynamic_module_type_module_http_header> = headers
            .iter()
            .map(
                |(name, value)| envoy_dynamic_module_type_module_http_header {
                    key_ptr: name.as_ptr().cast(),
                    key_length: name.len(),
                    value_ptr: value.as_ptr().cast(),
                    value_length: value.len(),
                },
            )
            .collect();
        // SAFETY: `self.ptr` is alive; `raw` (and the strings it points to) and `body` live
        // across the call, which reads them only during it.
        unsafe {
            envoy_dynamic_module_callback_http_send_response(
                self.ptr,
                status,
                raw.as_mut_ptr(),
                raw.len(),
                module_buffer(body),
                module_buffer(b"gatehouse"),
            );
        }
    }

    /// Ends the stream (the client sees a reset); no hook of it runs afterwards.
    pub fn reset(&self) {
        // SAFETY: `self.ptr` is alive; the details buffer lives across the call.
        unsafe {
            envoy_dynamic_module_callback_http_filter_reset_stream(
                self.ptr,
                envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalReset,
                module_buffer(b"gatehouse"),
            );
        }
    }

    /// Adds `value` to a counter of the stream's configuration.
    pub fn increment_counter(&self, id: usize, value: u64) {
        // SAFETY: `self.ptr` is alive; `id` was defined on this stream's configuration; no labels.
        unsafe {
            envoy_dynamic_module_callback_http_filter_increment_counter(
                self.ptr,
                id,
                core::ptr::null_mut(),
                0,
                value,
            );
        }
    }

    /// Moves a gauge of the stream's configuration by `delta`.
    pub fn add_gauge(&self, id: usize, delta: i64) {
        // SAFETY: as in `increment_counter`.
        unsafe {
            if delta >= 0 {
                envoy_dynamic_module_callback_http_filter_increment_gauge(
                    self.ptr,
                    id,
                    core::ptr::null_mut(),
                    0,
                    delta.unsigned_abs(),
                );
            } else {
                envoy_dynamic_module_callback_http_filter_decrement_gauge(
                    self.ptr,
                    id,
                    core::ptr::null_mut(),
                    0,
                    delta.unsigned_abs(),
                );
            }
        }
    }
}

/// Writes `line` to Envoy's `dynamic_modules` logger.
pub fn log(level: log::Level, line: &str) {
    let level = match level {
        log::Level::Error => envoy_dynamic_module_type_log_level_Error,
        log::Level::Warn => envoy_dynamic_module_type_log_level_Warn,
        log::Level::Info => envoy_dynamic_module_type_log_level_Info,
        log::Level::Debug => envoy_dynamic_module_type_log_level_Debug,
        log::Level::Trace => envoy_dynamic_module_type_log_level_Trace,
    };
    // SAFETY: `line` lives across the call, which reads it only during it; any thread may log.
    unsafe { envoy_dynamic_module_callback_log(level, module_buffer(line.as_bytes())) }
}

/// The `log` crate's records, to Envoy's log (what the shared configuration code writes).
struct EnvoyLogger;

impl log::Log for EnvoyLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            log(record.level(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static LOGGER: EnvoyLogger = EnvoyLogger;

// ---------------------------------------------------------------------------------------------
// The hooks Envoy calls. The configuration type is the crate's `ModuleConfig`.
// ---------------------------------------------------------------------------------------------

type Config = crate::ModuleConfig;
type Filter = <crate::ModuleConfig as FilterConfig>::Filter;

/// A configuration as Envoy holds it: the module's, and whether a hook of one of its streams
/// panicked.
struct ConfigBox {
    config: Config,
    poisoned: Arc<AtomicBool>,
}

/// A stream's filter and whether one of its hooks panicked.
struct Stream {
    /// `None`: the configuration was poisoned when the stream began; every request is denied.
    filter: Option<Filter>,
    config_poisoned: Arc<AtomicBool>,
    envoy: envoy_dynamic_module_type_http_filter_envoy_ptr,
    poisoned: bool,
    /// Whether the request went on (a panic after that resets rather than replies).
    forwarded: bool,
}

impl Stream {
    /// Runs `hook` unless the stream is poisoned; a panic poisons it and fails closed.
    fn run(&mut self, request_phase: bool, hook: impl FnOnce(&mut Filter) -> Status) -> Status {
        if self.poisoned {
            return Status::Stop;
        }
        let Some(filter) = self.filter.as_mut() else {
            // Born poisoned: deny at the first request hook, then hold.
            self.poisoned = true;
            if request_phase {
                log(
                    log::Level::Error,
                    "the filter panicked earlier on this configuration; denying",
                );
                self.deny();
            } else {
                EnvoyFilter { ptr: self.envoy }.reset();
            }
            return Status::Stop;
        };
        match catch_unwind(AssertUnwindSafe(|| hook(filter))) {
            Ok(status) => {
                if request_phase && status == Status::Continue {
                    self.forwarded = true;
                }
                status
            }
            Err(_) => {
                self.poisoned = true;
                self.config_poisoned.store(true, Ordering::Release);
                if request_phase && !self.forwarded {
                    log(
                        log::Level::Error,
                        "the filter panicked deciding a request; denying it and every later \
                         request of this configuration",
                    );
                    self.deny();
                } else {
                    log(
                        log::Level::Error,
                        "the filter panicked on a forwarded stream; resetting it and denying \
                         every later request of this configuration",
                    );
                    EnvoyFilter { ptr: self.envoy }.reset();
                }
                Status::Stop
            }
        }
    }

    fn deny(&self) {
        let (status, content_type, body) = Config::PANIC_REPLY;
        EnvoyFilter { ptr: self.envoy }.send_response(
            status,
            &[("content-type", content_type)],
            body.as_bytes(),
        );
    }
}

/// The stream behind a module pointer.
///
/// # Safety
/// `ptr` is a pointer `envoy_dynamic_module_on_http_filter_new` returned and
/// `envoy_dynamic_module_on_http_filter_destroy` has not yet received; Envoy calls the hooks of
/// one stream on one thread, one at a time, so no other reference to it is alive.
unsafe fn stream<'a>(
    ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> Option<&'a mut Stream> {
    // SAFETY: the caller's promise; a null pointer (never returned by `filter_new`) is `None`.
    unsafe { ptr.cast_mut().cast::<Stream>().as_mut() }
}

fn headers_status(status: Status) -> u32 {
    match status {
        Status::Continue => {
            envoy_dynamic_module_type_on_http_filter_request_headers_status_Continue
        }
        Status::Stop => {
            envoy_dynamic_module_type_on_http_filter_request_headers_status_StopIteration
        }
    }
}

fn body_status(status: Status) -> u32 {
    match status {
        Status::Continue => envoy_dynamic_module_type_on_http_filter_request_body_status_Continue,
        Status::Stop => {
            envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationAndBuffer
        }
    }
}

fn trailers_status(status: Status) -> u32 {
    match status {
        Status::Continue => {
            envoy_dynamic_module_type_on_http_filter_request_trailers_status_Continue
        }
        Status::Stop => {
            envoy_dynamic_module_type_on_http_filter_request_trailers_status_StopIteration
        }
    }
}

/// The ABI version this module was built for (`sys::ABI_VERSION`, NUL-terminated, static).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init(
) -> envoy_dynamic_module_type_abi_version_module_ptr {
    // A logger set twice (the module loaded again) keeps the first: both are this one.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
    ABI_VERSION_C.as_ptr().cast()
}

/// # Safety
/// Envoy passes its configuration pointer and two views valid for the call.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    name: envoy_dynamic_module_type_envoy_buffer,
    config: envoy_dynamic_module_type_envoy_buffer,
) -> envoy_dynamic_module_type_http_filter_config_module_ptr {
    // SAFETY: Envoy's views are readable for the call; copied before anything else runs.
    let (name, config) = unsafe {
        (
            copy_envoy(name.ptr, name.length),
            copy_envoy(config.ptr, config.length),
        )
    };
    let envoy = EnvoyConfig {
        ptr: filter_config_envoy_ptr,
    };
    match catch_unwind(AssertUnwindSafe(|| Config::new(&envoy, &name, &config))) {
        Ok(Some(config)) => Box::into_raw(Box::new(ConfigBox {
            config,
            poisoned: Arc::new(AtomicBool::new(false)),
        }))
        .cast_const()
        .cast(),
        Ok(None) => core::ptr::null(),
        Err(_) => {
            log(
                log::Level::Error,
                "the filter panicked loading a configuration; refusing it",
            );
            core::ptr::null()
        }
    }
}

/// # Safety
/// `filter_config_ptr` is a pointer `config_new` returned, not yet destroyed; Envoy destroys a
/// configuration once, after the last stream that uses it.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
) {
    if !filter_config_ptr.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` in `config_new` and is given back once.
        drop(unsafe { Box::from_raw(filter_config_ptr.cast_mut().cast::<ConfigBox>()) });
    }
}

/// # Safety
/// `filter_config_ptr` is a live configuration of `config_new`; `filter_envoy_ptr` is the new
/// stream's, valid until `filter_destroy`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> envoy_dynamic_module_type_http_filter_module_ptr {
    // SAFETY: a live configuration, shared between workers, only read (`Config: Sync`; the
    // flag is atomic).
    let Some(config) = (unsafe { filter_config_ptr.cast::<ConfigBox>().as_ref() }) else {
        return core::ptr::null();
    };
    let stream = |filter| {
        Box::into_raw(Box::new(Stream {
            filter,
            config_poisoned: Arc::clone(&config.poisoned),
            envoy: filter_envoy_ptr,
            poisoned: false,
            forwarded: false,
        }))
        .cast_const()
        .cast()
    };
    if config.poisoned.load(Ordering::Acquire) {
        return stream(None);
    }
    let envoy = EnvoyFilter {
        ptr: filter_envoy_ptr,
    };
    match catch_unwind(AssertUnwindSafe(|| config.config.new_filter(envoy))) {
        Ok(filter) => stream(Some(filter)),
        Err(_) => {
            config.poisoned.store(true, Ordering::Release);
            log(
                log::Level::Error,
                "the filter panicked starting a stream; denying",
            );
            stream(None)
        }
    }
}

/// # Safety
/// `filter_module_ptr` is a pointer `filter_new` returned, given back once.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
    if !filter_module_ptr.is_null() {
        // SAFETY: from `Box::into_raw` in `filter_new`, given back once. Dropping the filter
        // runs no code that can panic across the boundary: it frees memory only.
        drop(unsafe { Box::from_raw(filter_module_ptr.cast_mut().cast::<Stream>()) });
    }
}

/// # Safety
/// As for every stream hook: the pointers of one live stream (see `stream`).
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_headers_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => headers_status(s.run(true, |f| f.request_headers(end_of_stream))),
        None => headers_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_request_body_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => body_status(s.run(true, |f| f.request_body(end_of_stream))),
        None => body_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> envoy_dynamic_module_type_on_http_filter_request_trailers_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => trailers_status(s.run(true, HttpFilter::request_trailers)),
        None => trailers_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_response_headers_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => headers_status(s.run(false, |f| f.response_headers(end_of_stream))),
        None => headers_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    end_of_stream: bool,
) -> envoy_dynamic_module_type_on_http_filter_response_body_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => body_status(s.run(false, |f| f.response_body(end_of_stream))),
        None => body_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) -> envoy_dynamic_module_type_on_http_filter_response_trailers_status {
    // SAFETY: see `stream`.
    match unsafe { stream(filter_module_ptr) } {
        Some(s) => trailers_status(s.run(false, HttpFilter::response_trailers)),
        None => trailers_status(Status::Stop),
    }
}

/// # Safety
/// See `envoy_dynamic_module_on_http_filter_request_headers`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
    // SAFETY: see `stream`.
    if let Some(s) = unsafe { stream(filter_module_ptr) } {
        if let (false, Some(filter)) = (s.poisoned, s.filter.as_mut()) {
            if catch_unwind(AssertUnwindSafe(|| filter.complete())).is_err() {
                s.poisoned = true;
                s.config_poisoned.store(true, Ordering::Release);
            }
        }
    }
}

// Hooks Envoy requires but Gatehouse does not use (callouts, streams, scheduling, watermarks):
// each does nothing.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _callout_id: u64,
    _result: envoy_dynamic_module_type_http_callout_result,
    _headers: *mut envoy_dynamic_module_type_envoy_http_header,
    _headers_size: usize,
    _body_chunks: *mut envoy_dynamic_module_type_envoy_buffer,
    _body_chunks_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream_id: u64,
    _headers: *mut envoy_dynamic_module_type_envoy_http_header,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream_id: u64,
    _data: *const envoy_dynamic_module_type_envoy_buffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream_id: u64,
    _trailers: *mut envoy_dynamic_module_type_envoy_http_header,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _stream_id: u64,
    _reason: envoy_dynamic_module_type_http_stream_reset_reason,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    _event_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
) {
}

// Each exported hook has exactly the type the ABI header gives it: a signature that drifts from
// `sys` fails the build here, not at load (Envoy resolves hooks by name only).
const _: on_program_init = envoy_dynamic_module_on_program_init;
const _: on_http_filter_config_new = envoy_dynamic_module_on_http_filter_config_new;
const _: on_http_filter_config_destroy = envoy_dynamic_module_on_http_filter_config_destroy;
const _: on_http_filter_new = envoy_dynamic_module_on_http_filter_new;
const _: on_http_filter_destroy = envoy_dynamic_module_on_http_filter_destroy;
const _: on_http_filter_request_headers = envoy_dynamic_module_on_http_filter_request_headers;
const _: on_http_filter_request_body = envoy_dynamic_module_on_http_filter_request_body;
const _: on_http_filter_request_trailers = envoy_dynamic_module_on_http_filter_request_trailers;
const _: on_http_filter_response_headers = envoy_dynamic_module_on_http_filter_response_headers;
const _: on_http_filter_response_body = envoy_dynamic_module_on_http_filter_response_body;
const _: on_http_filter_response_trailers = envoy_dynamic_module_on_http_filter_response_trailers;
const _: on_http_filter_stream_complete = envoy_dynamic_module_on_http_filter_stream_complete;
const _: on_http_filter_http_callout_done = envoy_dynamic_module_on_http_filter_http_callout_done;
const _: on_http_filter_http_stream_headers =
    envoy_dynamic_module_on_http_filter_http_stream_headers;
const _: on_http_filter_http_stream_data = envoy_dynamic_module_on_http_filter_http_stream_data;
const _: on_http_filter_http_stream_trailers =
    envoy_dynamic_module_on_http_filter_http_stream_trailers;
const _: on_http_filter_http_stream_complete =
    envoy_dynamic_module_on_http_filter_http_stream_complete;
const _: on_http_filter_http_stream_reset = envoy_dynamic_module_on_http_filter_http_stream_reset;
const _: on_http_filter_scheduled = envoy_dynamic_module_on_http_filter_scheduled;
const _: on_http_filter_downstream_above_write_buffer_high_watermark =
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark;
const _: on_http_filter_downstream_below_write_buffer_low_watermark =
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark;
