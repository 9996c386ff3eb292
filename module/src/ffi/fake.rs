//! A fake Envoy: the callbacks the module imports, implemented in Rust over in-memory header
//! maps and bodies, and a driver that calls the module's exported hooks as Envoy's filter
//! manager does (a body chunk a hook stops on is buffered; a `Continue` releases what was
//! buffered with the current chunk). Unit tests and the `native_glue` fuzz target drive the
//! whole FFI layer through it, since the real callbacks exist only inside Envoy.
//!
//! Not a model of everything Envoy does: one stream at a time per thread, no watermarks, no
//! callouts. What it checks is the module's side of the contract: pointers, lengths, ownership,
//! statuses, and that no request goes on after a local reply.

#![allow(
    non_upper_case_globals,
    reason = "the ABI's constants, matched as the header names them"
)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::sys::*;
use super::*;

/// A local reply the module sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the fake Envoy knows of one configuration: its metrics.
#[derive(Debug, Default)]
struct ConfigState {
    /// Metric names by id - 1 (Envoy never hands out 0 here).
    names: Vec<String>,
    values: BTreeMap<String, i64>,
    frozen: bool,
}

#[derive(Debug, Default)]
struct Body {
    received: Option<Vec<u8>>,
    buffered: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct StreamState {
    config: Rc<RefCell<ConfigState>>,
    request_headers: Vec<(Vec<u8>, Vec<u8>)>,
    response_headers: Vec<(Vec<u8>, Vec<u8>)>,
    request: Body,
    response: Body,
    reply: Option<Reply>,
    reset: bool,
}

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The lines the module logged on this thread so far (drained).
pub fn take_log() -> Vec<String> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// A configuration loaded into the fake Envoy.
#[derive(Debug)]
pub struct FakeConfig {
    state: Rc<RefCell<ConfigState>>,
    module: envoy_dynamic_module_type_http_filter_config_module_ptr,
}

impl FakeConfig {
    /// `program_init`, then `config_new` with `config`; `None` when the module refuses it.
    pub fn load(config: &[u8]) -> Option<FakeConfig> {
        let version = envoy_dynamic_module_on_program_init();
        assert!(!version.is_null(), "program_init returned null");
        let state = Rc::new(RefCell::new(ConfigState::default()));
        let envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr =
            Rc::as_ptr(&state).cast_mut().cast();
        let name = b"gatehouse";
        // SAFETY: the views point to live slices for the call; the Envoy pointer is the fake's
        // configuration state, alive as long as `FakeConfig` (which holds an `Rc` to it).
        let module = unsafe {
            envoy_dynamic_module_on_http_filter_config_new(
                envoy_ptr,
                envoy_dynamic_module_type_envoy_buffer {
                    ptr: name.as_ptr().cast(),
                    length: name.len(),
                },
                envoy_dynamic_module_type_envoy_buffer {
                    ptr: config.as_ptr().cast(),
                    length: config.len(),
                },
            )
        };
        state.borrow_mut().frozen = true;
        (!module.is_null()).then_some(FakeConfig { state, module })
    }

    /// A metric's value (0 when never touched).
    pub fn metric(&self, name: &str) -> i64 {
        self.state.borrow().values.get(name).copied().unwrap_or(0)
    }

    /// Every metric defined, with its value.
    pub fn metrics(&self) -> BTreeMap<String, i64> {
        let state = self.state.borrow();
        state
            .names
            .iter()
            .map(|n| (n.clone(), state.values.get(n).copied().unwrap_or(0)))
            .collect()
    }

    /// A new stream (`filter_new`).
    pub fn stream(&self) -> FakeStream {
        let state = Box::new(RefCell::new(StreamState {
            config: Rc::clone(&self.state),
            ..StreamState::default()
        }));
        let envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr =
            (&*state as *const RefCell<StreamState>).cast_mut().cast();
        // SAFETY: `self.module` is the live configuration `config_new` returned; the stream's
        // Envoy pointer is the boxed state, alive (and never moved) until the stream is dropped,
        // after `filter_destroy`.
        let module = unsafe { envoy_dynamic_module_on_http_filter_new(self.module, envoy_ptr) };
        FakeStream { state, module }
    }
}

impl Drop for FakeConfig {
    fn drop(&mut self) {
        // SAFETY: the configuration pointer `config_new` returned, given back once; every stream
        // of it has been dropped (each borrows the configuration).
        unsafe { envoy_dynamic_module_on_http_filter_config_destroy(self.module) };
    }
}

/// One stream through the fake Envoy.
#[derive(Debug)]
pub struct FakeStream {
    state: Box<RefCell<StreamState>>,
    module: envoy_dynamic_module_type_http_filter_module_ptr,
}

/// What the filter manager does with a body chunk after the hook answered.
fn settle(body: &mut Body, status: u32, end_of_stream: bool) -> Option<Vec<u8>> {
    let received = body.received.take().unwrap_or_default();
    if status == envoy_dynamic_module_type_on_http_filter_request_body_status_Continue {
        let mut out = body.buffered.take().unwrap_or_default();
        out.extend_from_slice(&received);
        Some(out)
    } else {
        body.buffered
            .get_or_insert_with(Vec::new)
            .extend_from_slice(&received);
        let _ = end_of_stream;
        None
    }
}

impl FakeStream {
    fn envoy_ptr(&self) -> envoy_dynamic_module_type_http_filter_envoy_ptr {
        (&*self.state as *const RefCell<StreamState>)
            .cast_mut()
            .cast()
    }

    /// Whether the module created the stream (`filter_new` returned non-null).
    pub fn created(&self) -> bool {
        !self.module.is_null()
    }

    /// `request_headers` with these headers; returns the hook's status.
    pub fn request_headers(&mut self, headers: &[(&[u8], &[u8])], end_of_stream: bool) -> u32 {
        self.state.borrow_mut().request_headers = headers
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        // SAFETY: the live stream's pointers; no borrow of the state is held across the call.
        unsafe {
            envoy_dynamic_module_on_http_filter_request_headers(
                self.envoy_ptr(),
                self.module,
                end_of_stream,
            )
        }
    }

    /// `request_body` with this chunk; returns the status and, when the hook let the body go on,
    /// the bytes forwarded (what was buffered, then the chunk).
    pub fn request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> (u32, Option<Vec<u8>>) {
        self.state.borrow_mut().request.received = Some(chunk.to_vec());
        // SAFETY: as in `request_headers`.
        let status = unsafe {
            envoy_dynamic_module_on_http_filter_request_body(
                self.envoy_ptr(),
                self.module,
                end_of_stream,
            )
        };
        let forwarded = settle(&mut self.state.borrow_mut().request, status, end_of_stream);
        (status, forwarded)
    }

    pub fn request_trailers(&mut self) -> u32 {
        // SAFETY: as in `request_headers`.
        unsafe {
            envoy_dynamic_module_on_http_filter_request_trailers(self.envoy_ptr(), self.module)
        }
    }

    pub fn response_headers(&mut self, headers: &[(&[u8], &[u8])], end_of_stream: bool) -> u32 {
        self.state.borrow_mut().response_headers = headers
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        // SAFETY: as in `request_headers`.
        unsafe {
            envoy_dynamic_module_on_http_filter_response_headers(
                self.envoy_ptr(),
                self.module,
                end_of_stream,
            )
        }
    }

    pub fn response_body(&mut self, chunk: &[u8], end_of_stream: bool) -> (u32, Option<Vec<u8>>) {
        self.state.borrow_mut().response.received = Some(chunk.to_vec());
        // SAFETY: as in `request_headers`.
        let status = unsafe {
            envoy_dynamic_module_on_http_filter_response_body(
                self.envoy_ptr(),
                self.module,
                end_of_stream,
            )
        };
        let forwarded = settle(&mut self.state.borrow_mut().response, status, end_of_stream);
        (status, forwarded)
    }

    pub fn response_trailers(&mut self) -> u32 {
        // SAFETY: as in `request_headers`.
        unsafe {
            envoy_dynamic_module_on_http_filter_response_trailers(self.envoy_ptr(), self.module)
        }
    }

    /// The request headers as the upstream would get them now.
    pub fn upstream_headers(&self) -> Vec<(String, String)> {
        text_pairs(&self.state.borrow().request_headers)
    }

    pub fn response_headers_now(&self) -> Vec<(String, String)> {
        text_pairs(&self.state.borrow().response_headers)
    }

    pub fn reply(&self) -> Option<Reply> {
        self.state.borrow().reply.clone()
    }

    pub fn was_reset(&self) -> bool {
        self.state.borrow().reset
    }
}

fn text_pairs(headers: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        if self.module.is_null() {
            return;
        }
        // SAFETY: the live stream's pointers; `filter_destroy` gets the module pointer once.
        unsafe {
            envoy_dynamic_module_on_http_filter_stream_complete(self.envoy_ptr(), self.module);
            envoy_dynamic_module_on_http_filter_destroy(self.module);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The callbacks, as Envoy exports them.
// ---------------------------------------------------------------------------------------------

/// The stream state behind an Envoy pointer the fake handed out.
///
/// # Safety
/// `ptr` is a `FakeStream`'s state pointer, alive for the call.
unsafe fn stream_state<'a>(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> &'a RefCell<StreamState> {
    // SAFETY: the caller's promise.
    unsafe { &*ptr.cast_const().cast::<RefCell<StreamState>>() }
}

/// # Safety
/// `ptr` is a `FakeConfig`'s state pointer, alive for the call.
unsafe fn config_state<'a>(
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
) -> &'a RefCell<ConfigState> {
    // SAFETY: the caller's promise.
    unsafe { &*ptr.cast_const().cast::<RefCell<ConfigState>>() }
}

/// # Safety
/// `buffer` views `length` readable bytes (or is null with length 0).
unsafe fn read(buffer: envoy_dynamic_module_type_module_buffer) -> Vec<u8> {
    if buffer.ptr.is_null() {
        assert_eq!(buffer.length, 0, "a null buffer with a length");
        return Vec::new();
    }
    // SAFETY: the caller's promise.
    unsafe { core::slice::from_raw_parts(buffer.ptr.cast::<u8>(), buffer.length) }.to_vec()
}

fn map_of(state: &mut StreamState, header_type: u32) -> Option<&mut Vec<(Vec<u8>, Vec<u8>)>> {
    match header_type {
        envoy_dynamic_module_type_http_header_type_RequestHeader => {
            Some(&mut state.request_headers)
        }
        envoy_dynamic_module_type_http_header_type_ResponseHeader => {
            Some(&mut state.response_headers)
        }
        _ => None,
    }
}

fn body_of(state: &mut StreamState, body_type: u32) -> Option<&mut Option<Vec<u8>>> {
    match body_type {
        envoy_dynamic_module_type_http_body_type_ReceivedRequestBody => {
            Some(&mut state.request.received)
        }
        envoy_dynamic_module_type_http_body_type_BufferedRequestBody => {
            Some(&mut state.request.buffered)
        }
        envoy_dynamic_module_type_http_body_type_ReceivedResponseBody => {
            Some(&mut state.response.received)
        }
        envoy_dynamic_module_type_http_body_type_BufferedResponseBody => {
            Some(&mut state.response.buffered)
        }
        _ => None,
    }
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_log(
    level: envoy_dynamic_module_type_log_level,
    message: envoy_dynamic_module_type_module_buffer,
) {
    // SAFETY: the module passes a live view.
    let line = String::from_utf8_lossy(&unsafe { read(message) }).into_owned();
    LOG.with(|log| log.borrow_mut().push(format!("{level} {line}")));
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_headers_size(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    header_type: envoy_dynamic_module_type_http_header_type,
) -> usize {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    map_of(&mut state, header_type).map_or(0, |m| m.len())
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_headers(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    header_type: envoy_dynamic_module_type_http_header_type,
    result: *mut envoy_dynamic_module_type_envoy_http_header,
) -> bool {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(map) = map_of(&mut state, header_type) else {
        return false;
    };
    for (i, (name, value)) in map.iter().enumerate() {
        // SAFETY: the module allocated room for `get_headers_size` entries, which is `map.len()`;
        // the views point into the map, which outlives the hook (the module copies them).
        unsafe {
            result
                .add(i)
                .write(envoy_dynamic_module_type_envoy_http_header {
                    key_ptr: name.as_ptr().cast(),
                    key_length: name.len(),
                    value_ptr: value.as_ptr().cast(),
                    value_length: value.len(),
                });
        }
    }
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_header(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    header_type: envoy_dynamic_module_type_http_header_type,
    key: envoy_dynamic_module_type_module_buffer,
    result: *mut envoy_dynamic_module_type_envoy_buffer,
    index: usize,
    optional_size: *mut usize,
) -> bool {
    // SAFETY: a live view from the module.
    let key = unsafe { read(key) };
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(map) = map_of(&mut state, header_type) else {
        return false;
    };
    let values: Vec<&Vec<u8>> = map
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(&key))
        .map(|(_, v)| v)
        .collect();
    let view = values.get(index).map_or(
        envoy_dynamic_module_type_envoy_buffer {
            ptr: core::ptr::null(),
            length: 0,
        },
        |v| envoy_dynamic_module_type_envoy_buffer {
            ptr: v.as_ptr().cast(),
            length: v.len(),
        },
    );
    // SAFETY: the module passes valid places to write to (`optional_size` may be null).
    unsafe {
        result.write(view);
        if !optional_size.is_null() {
            optional_size.write(values.len());
        }
    }
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_set_header(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    header_type: envoy_dynamic_module_type_http_header_type,
    key: envoy_dynamic_module_type_module_buffer,
    value: envoy_dynamic_module_type_module_buffer,
) -> bool {
    // SAFETY: live views from the module.
    let (name, remove, value) = unsafe { (read(key), value.ptr.is_null(), read(value)) };
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(map) = map_of(&mut state, header_type) else {
        return false;
    };
    let position = map.iter().position(|(n, _)| n.eq_ignore_ascii_case(&name));
    map.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    if !remove {
        let at = position.unwrap_or(map.len()).min(map.len());
        map.insert(at, (name.to_ascii_lowercase(), value));
    }
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_body_size(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    body_type: envoy_dynamic_module_type_http_body_type,
) -> usize {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    body_of(&mut state, body_type)
        .and_then(|b| b.as_ref())
        .map_or(0, Vec::len)
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_body_chunks_size(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    body_type: envoy_dynamic_module_type_http_body_type,
) -> usize {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    // Two slices when there is more than a byte, as Envoy's buffers are made of slices.
    body_of(&mut state, body_type)
        .and_then(|b| b.as_ref())
        .map_or(0, |b| b.len().min(2))
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_get_body_chunks(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    body_type: envoy_dynamic_module_type_http_body_type,
    result: *mut envoy_dynamic_module_type_envoy_buffer,
) -> bool {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(Some(body)) = body_of(&mut state, body_type) else {
        return false;
    };
    let half = body.len() / 2;
    let (a, b) = body.split_at(half);
    let slices: Vec<&[u8]> = [a, b].into_iter().filter(|s| !s.is_empty()).collect();
    for (i, slice) in slices.iter().enumerate() {
        // SAFETY: the module allocated `get_body_chunks_size` entries: as many as `slices`.
        unsafe {
            result.add(i).write(envoy_dynamic_module_type_envoy_buffer {
                ptr: slice.as_ptr().cast(),
                length: slice.len(),
            });
        }
    }
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_drain_body(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    body_type: envoy_dynamic_module_type_http_body_type,
    n: usize,
) -> bool {
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(Some(body)) = body_of(&mut state, body_type) else {
        return false;
    };
    body.drain(..n.min(body.len()));
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_append_body(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    body_type: envoy_dynamic_module_type_http_body_type,
    data: envoy_dynamic_module_type_module_buffer,
) -> bool {
    // SAFETY: a live view from the module.
    let data = unsafe { read(data) };
    // SAFETY: a stream pointer the fake handed out.
    let mut state = unsafe { stream_state(ptr) }.borrow_mut();
    let Some(Some(body)) = body_of(&mut state, body_type) else {
        return false;
    };
    body.extend_from_slice(&data);
    true
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_received_buffered_request_body(
    _ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> bool {
    false
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_received_buffered_response_body(
    _ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> bool {
    false
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_send_response(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    status: u32,
    headers: *mut envoy_dynamic_module_type_module_http_header,
    headers_size: usize,
    body: envoy_dynamic_module_type_module_buffer,
    _details: envoy_dynamic_module_type_module_buffer,
) {
    let mut pairs = Vec::new();
    for i in 0..headers_size {
        // SAFETY: the module passes `headers_size` live entries, each viewing live strings.
        let h = unsafe { headers.add(i).read() };
        // SAFETY: as above.
        let (name, value) = unsafe {
            (
                read(envoy_dynamic_module_type_module_buffer {
                    ptr: h.key_ptr,
                    length: h.key_length,
                }),
                read(envoy_dynamic_module_type_module_buffer {
                    ptr: h.value_ptr,
                    length: h.value_length,
                }),
            )
        };
        pairs.push((
            String::from_utf8_lossy(&name).into_owned(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    // SAFETY: a live view; a stream pointer the fake handed out.
    let (body, state) = unsafe { (read(body), stream_state(ptr)) };
    let mut state = state.borrow_mut();
    assert!(state.reply.is_none(), "two local replies on one stream");
    state.reply = Some(Reply {
        status,
        headers: pairs,
        body,
    });
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_reset_stream(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    _reason: envoy_dynamic_module_type_http_filter_stream_reset_reason,
    _details: envoy_dynamic_module_type_module_buffer,
) {
    // SAFETY: a stream pointer the fake handed out.
    unsafe { stream_state(ptr) }.borrow_mut().reset = true;
}

fn define(
    state: &RefCell<ConfigState>,
    name: envoy_dynamic_module_type_module_buffer,
    id: *mut usize,
) -> envoy_dynamic_module_type_metrics_result {
    let mut state = state.borrow_mut();
    if state.frozen {
        return envoy_dynamic_module_type_metrics_result_Frozen;
    }
    // SAFETY: a live view from the module.
    let name = String::from_utf8_lossy(&unsafe { read(name) }).into_owned();
    state.names.push(name);
    // SAFETY: the module passes a valid place for the id.
    unsafe { id.write(state.names.len()) };
    envoy_dynamic_module_type_metrics_result_Success
}

fn add(
    state: &RefCell<ConfigState>,
    id: usize,
    delta: i64,
) -> envoy_dynamic_module_type_metrics_result {
    let mut state = state.borrow_mut();
    let Some(name) = id.checked_sub(1).and_then(|i| state.names.get(i)).cloned() else {
        return envoy_dynamic_module_type_metrics_result_MetricNotFound;
    };
    *state.values.entry(name).or_default() += delta;
    envoy_dynamic_module_type_metrics_result_Success
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_config_define_counter(
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    name: envoy_dynamic_module_type_module_buffer,
    _label_names: *mut envoy_dynamic_module_type_module_buffer,
    _label_names_length: usize,
    id: *mut usize,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a configuration pointer the fake handed out.
    define(unsafe { config_state(ptr) }, name, id)
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    name: envoy_dynamic_module_type_module_buffer,
    _label_names: *mut envoy_dynamic_module_type_module_buffer,
    _label_names_length: usize,
    id: *mut usize,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a configuration pointer the fake handed out.
    define(unsafe { config_state(ptr) }, name, id)
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    id: usize,
    _labels: *mut envoy_dynamic_module_type_module_buffer,
    _labels_length: usize,
    value: u64,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a configuration pointer the fake handed out.
    add(
        unsafe { config_state(ptr) },
        id,
        i64::try_from(value).unwrap_or(i64::MAX),
    )
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
    ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    id: usize,
    _labels: *mut envoy_dynamic_module_type_module_buffer,
    _labels_length: usize,
    value: u64,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a configuration pointer the fake handed out.
    let state = unsafe { config_state(ptr) };
    let Some(name) = id
        .checked_sub(1)
        .and_then(|i| state.borrow().names.get(i).cloned())
    else {
        return envoy_dynamic_module_type_metrics_result_MetricNotFound;
    };
    state
        .borrow_mut()
        .values
        .insert(name, i64::try_from(value).unwrap_or(i64::MAX));
    envoy_dynamic_module_type_metrics_result_Success
}

/// The configuration of a stream, for the stream's metric calls.
///
/// # Safety
/// `ptr` is a stream pointer the fake handed out.
unsafe fn stream_config(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
) -> Rc<RefCell<ConfigState>> {
    // SAFETY: the caller's promise.
    Rc::clone(&unsafe { stream_state(ptr) }.borrow().config)
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_increment_counter(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    id: usize,
    _labels: *mut envoy_dynamic_module_type_module_buffer,
    _labels_length: usize,
    value: u64,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a stream pointer the fake handed out.
    add(
        &*unsafe { stream_config(ptr) },
        id,
        i64::try_from(value).unwrap_or(i64::MAX),
    )
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_increment_gauge(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    id: usize,
    _labels: *mut envoy_dynamic_module_type_module_buffer,
    _labels_length: usize,
    value: u64,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a stream pointer the fake handed out.
    add(
        &*unsafe { stream_config(ptr) },
        id,
        i64::try_from(value).unwrap_or(i64::MAX),
    )
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_decrement_gauge(
    ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    id: usize,
    _labels: *mut envoy_dynamic_module_type_module_buffer,
    _labels_length: usize,
    value: u64,
) -> envoy_dynamic_module_type_metrics_result {
    // SAFETY: a stream pointer the fake handed out.
    add(
        &*unsafe { stream_config(ptr) },
        id,
        -i64::try_from(value).unwrap_or(i64::MAX),
    )
}
