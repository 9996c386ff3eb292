//! Hand-written Rust bindings for the Envoy dynamic modules ABI, HTTP filter subset.
//!
//! Source of truth: `source/extensions/dynamic_modules/abi/abi.h` in envoyproxy/envoy at commit
//! `0199da4a13cb999df12ad32db7d03942cfbf9abb` (its `#define` says "v0.1.0"; the Envoy 1.40.0
//! binary, build 9e5580933739775e8bce696a57a2e1bc99368f23, reports "v0.2.0").
//! Items marked **NOT IN HEADER @0199da** were taken from a newer `abi_impl.cc`
//! (`source/extensions/dynamic_modules/abi_impl.cc`) and confirmed present in the Envoy 1.40.0
//! binary with `nm -D --defined-only`; `tests/tests/native.rs` checks every symbol this file
//! declares against the Envoy the project runs.
//!
//! Conventions:
//! * C `size_t` → `usize`, `uint32_t` → `u32`, `uint64_t` → `u64`, C `bool` → Rust `bool`.
//! * C enums → `u32` type aliases plus `pub const` values in declaration order (never Rust
//!   enums: Envoy may hand back values we do not know).
//! * Hooks (module exports, Envoy calls) are function-pointer type aliases, so that exported
//!   functions can be checked at compile time, e.g.
//!   `const _: on_http_filter_new = envoy_dynamic_module_on_http_filter_new;`
//! * Callbacks (Envoy exports, module calls) are in the `extern "C"` block.
//! * Thread: unless noted, HTTP filter hooks/callbacks run on the worker thread that owns the
//!   stream; config-level hooks run on the main thread.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    missing_docs,
    clippy::missing_safety_doc
)]

use core::ffi::{c_char, c_void};

/// ABI version string the module returns from `envoy_dynamic_module_on_program_init`.
/// NUL-terminated because Envoy reads it as a C string (`absl::string_view(abi_version)`).
/// Envoy compares it byte-for-byte with its compiled-in `ENVOY_DYNAMIC_MODULES_ABI_VERSION`
/// ("v0.2.0" in the 1.40.0 binary): equal → info log "Dynamic module ABI version {} matched.";
/// different → *warning only* ("Dynamic module ABI version {} is deprecated. Please recompile the
/// module against the SDK with the exact Envoy version used by the main program."), module still
/// loads. Returning null fails the load.
pub const ABI_VERSION: &str = "v0.2.0\0";

// =============================================================================================
// Common types
// =============================================================================================

/// `const char*`: NUL-terminated ABI version string. OWNERSHIP: module owns it; must stay valid
/// until the end of `envoy_dynamic_module_on_program_init` (use a `'static` string).
pub type envoy_dynamic_module_type_abi_version_module_ptr = *const c_char;

/// `const char*` pointing into module-owned memory. Lifetime depends on the call site; for
/// callbacks, Envoy only reads it during the call.
pub type envoy_dynamic_module_type_buffer_module_ptr = *const c_char;

/// `const char*` pointing into Envoy-owned memory. Lifetime depends on the call site (usually
/// "until the end of the current event hook unless a setter callback is called").
pub type envoy_dynamic_module_type_buffer_envoy_ptr = *const c_char;

/// A (ptr, length) view of bytes owned by Envoy. Not NUL-terminated; may be (null, 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_envoy_buffer {
    pub ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub length: usize,
}

/// A (ptr, length) view of bytes owned by the module. Not NUL-terminated. (null, 0) is used as
/// the "null value" in `http_set_header`/`http_add_header` to remove a header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_module_buffer {
    pub ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub length: usize,
}

/// HTTP header key/value owned by the module (used for `send_response`, callouts, ...).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_module_http_header {
    pub key_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub key_length: usize,
    pub value_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub value_length: usize,
}

/// String key/value pair owned by the module (used by
/// `envoy_dynamic_module_callback_http_set_dynamic_metadata_string_batch`; not declared here).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_module_key_value_pair {
    pub key_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub key_length: usize,
    pub value_ptr: envoy_dynamic_module_type_buffer_module_ptr,
    pub value_length: usize,
}

/// HTTP header key/value owned by Envoy's HeaderMap (filled in by `http_get_headers`, passed to
/// callout hooks). Valid until the end of the current hook unless a setter is called.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct envoy_dynamic_module_type_envoy_http_header {
    pub key_ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub key_length: usize,
    pub value_ptr: envoy_dynamic_module_type_buffer_envoy_ptr,
    pub value_length: usize,
}

/// C enum `envoy_dynamic_module_type_http_header_type`: which header map a header callback acts on.
pub type envoy_dynamic_module_type_http_header_type = u32;
/// Request headers.
pub const envoy_dynamic_module_type_http_header_type_RequestHeader:
    envoy_dynamic_module_type_http_header_type = 0;
/// Request trailers.
pub const envoy_dynamic_module_type_http_header_type_RequestTrailer:
    envoy_dynamic_module_type_http_header_type = 1;
/// Response headers.
pub const envoy_dynamic_module_type_http_header_type_ResponseHeader:
    envoy_dynamic_module_type_http_header_type = 2;
/// Response trailers.
pub const envoy_dynamic_module_type_http_header_type_ResponseTrailer:
    envoy_dynamic_module_type_http_header_type = 3;

/// C enum `envoy_dynamic_module_type_log_level`; mirrors spdlog's level enum
/// (source/common/common/base_logger.h).
pub type envoy_dynamic_module_type_log_level = u32;
/// trace
pub const envoy_dynamic_module_type_log_level_Trace: envoy_dynamic_module_type_log_level = 0;
/// debug
pub const envoy_dynamic_module_type_log_level_Debug: envoy_dynamic_module_type_log_level = 1;
/// info
pub const envoy_dynamic_module_type_log_level_Info: envoy_dynamic_module_type_log_level = 2;
/// warn
pub const envoy_dynamic_module_type_log_level_Warn: envoy_dynamic_module_type_log_level = 3;
/// error
pub const envoy_dynamic_module_type_log_level_Error: envoy_dynamic_module_type_log_level = 4;
/// critical
pub const envoy_dynamic_module_type_log_level_Critical: envoy_dynamic_module_type_log_level = 5;
/// off (a message logged at Off is dropped by the host)
pub const envoy_dynamic_module_type_log_level_Off: envoy_dynamic_module_type_log_level = 6;

/// C enum `envoy_dynamic_module_type_http_callout_init_result`: result of starting a callout /
/// callout stream.
pub type envoy_dynamic_module_type_http_callout_init_result = u32;
/// Callout initialised.
pub const envoy_dynamic_module_type_http_callout_init_result_Success:
    envoy_dynamic_module_type_http_callout_init_result = 0;
/// Missing one of `:path`, `:method`, `host`.
pub const envoy_dynamic_module_type_http_callout_init_result_MissingRequiredHeaders:
    envoy_dynamic_module_type_http_callout_init_result = 1;
/// Cluster not found.
pub const envoy_dynamic_module_type_http_callout_init_result_ClusterNotFound:
    envoy_dynamic_module_type_http_callout_init_result = 2;
/// Callout id already in use.
pub const envoy_dynamic_module_type_http_callout_init_result_DuplicateCalloutId:
    envoy_dynamic_module_type_http_callout_init_result = 3;
/// Request could not be created (e.g. no healthy upstream host).
pub const envoy_dynamic_module_type_http_callout_init_result_CannotCreateRequest:
    envoy_dynamic_module_type_http_callout_init_result = 4;

/// C enum `envoy_dynamic_module_type_http_callout_result` (AsyncClient::FailureReason + Success);
/// argument of the `*_http_callout_done` hooks.
pub type envoy_dynamic_module_type_http_callout_result = u32;
/// Success.
pub const envoy_dynamic_module_type_http_callout_result_Success:
    envoy_dynamic_module_type_http_callout_result = 0;
/// Reset.
pub const envoy_dynamic_module_type_http_callout_result_Reset:
    envoy_dynamic_module_type_http_callout_result = 1;
/// Response exceeded the buffer limit.
pub const envoy_dynamic_module_type_http_callout_result_ExceedResponseBufferLimit:
    envoy_dynamic_module_type_http_callout_result = 2;

/// C enum `envoy_dynamic_module_type_http_stream_reset_reason` (AsyncClient::StreamResetReason);
/// argument of the `*_http_stream_reset` hooks (callout streams, not the main stream).
pub type envoy_dynamic_module_type_http_stream_reset_reason = u32;
/// ConnectionFailure
pub const envoy_dynamic_module_type_http_stream_reset_reason_ConnectionFailure:
    envoy_dynamic_module_type_http_stream_reset_reason = 0;
/// ConnectionTermination
pub const envoy_dynamic_module_type_http_stream_reset_reason_ConnectionTermination:
    envoy_dynamic_module_type_http_stream_reset_reason = 1;
/// LocalReset
pub const envoy_dynamic_module_type_http_stream_reset_reason_LocalReset:
    envoy_dynamic_module_type_http_stream_reset_reason = 2;
/// LocalRefusedStreamReset
pub const envoy_dynamic_module_type_http_stream_reset_reason_LocalRefusedStreamReset:
    envoy_dynamic_module_type_http_stream_reset_reason = 3;
/// Overflow
pub const envoy_dynamic_module_type_http_stream_reset_reason_Overflow:
    envoy_dynamic_module_type_http_stream_reset_reason = 4;
/// RemoteReset
pub const envoy_dynamic_module_type_http_stream_reset_reason_RemoteReset:
    envoy_dynamic_module_type_http_stream_reset_reason = 5;
/// RemoteRefusedStreamReset
pub const envoy_dynamic_module_type_http_stream_reset_reason_RemoteRefusedStreamReset:
    envoy_dynamic_module_type_http_stream_reset_reason = 6;
/// ProtocolError
pub const envoy_dynamic_module_type_http_stream_reset_reason_ProtocolError:
    envoy_dynamic_module_type_http_stream_reset_reason = 7;

/// C enum `envoy_dynamic_module_type_metrics_result`: result of every metrics callback.
pub type envoy_dynamic_module_type_metrics_result = u32;
/// Success.
pub const envoy_dynamic_module_type_metrics_result_Success:
    envoy_dynamic_module_type_metrics_result = 0;
/// Metric id not found ("usually an indication that a handle was improperly initialized or stored").
pub const envoy_dynamic_module_type_metrics_result_MetricNotFound:
    envoy_dynamic_module_type_metrics_result = 1;
/// Labels invalid (e.g. label_values_length != number of label names at definition).
pub const envoy_dynamic_module_type_metrics_result_InvalidLabels:
    envoy_dynamic_module_type_metrics_result = 2;
/// "a metric was attempted to be created when the stats creation is frozen" (i.e. a define_*
/// call after `on_http_filter_config_new` returned).
pub const envoy_dynamic_module_type_metrics_result_Frozen:
    envoy_dynamic_module_type_metrics_result = 3;

// =============================================================================================
// HTTP filter types
// =============================================================================================

/// `void*` to Envoy's DynamicModuleHttpFilterConfig. OWNERSHIP: Envoy. 1:1 with the module's
/// config pointer. Passed to `on_http_filter_config_new`; used for define_* metrics,
/// config-level metrics, config scheduler and config-level callouts.
pub type envoy_dynamic_module_type_http_filter_config_envoy_ptr = *mut c_void;

/// `const void*` to the module's in-module filter config. OWNERSHIP: module; may be freed when
/// `on_http_filter_config_destroy` is called with it.
pub type envoy_dynamic_module_type_http_filter_config_module_ptr = *const c_void;

/// `const void*` to the module's per-route config. OWNERSHIP: module; may be freed when
/// `on_http_filter_per_route_config_destroy` is called with it.
pub type envoy_dynamic_module_type_http_filter_per_route_config_module_ptr = *const c_void;

/// `void*` to Envoy's DynamicModuleHttpFilter (one per HTTP stream). OWNERSHIP: Envoy; usable by
/// the module until `on_http_filter_destroy` is called.
pub type envoy_dynamic_module_type_http_filter_envoy_ptr = *mut c_void;

/// `const void*` to the module's per-stream filter. OWNERSHIP: module; may be freed when
/// `on_http_filter_destroy` is called with it.
pub type envoy_dynamic_module_type_http_filter_module_ptr = *const c_void;

/// `void*` scheduler handle (allocated by Envoy, lifetime managed by the module:
/// `http_filter_scheduler_new` / `_commit` / `_delete`). Not used by Gatehouse.
pub type envoy_dynamic_module_type_http_filter_scheduler_module_ptr = *mut c_void;

/// `void*` config scheduler handle (`http_filter_config_scheduler_new` / `_commit` / `_delete`,
/// dispatches to the main thread). Not used by Gatehouse.
pub type envoy_dynamic_module_type_http_filter_config_scheduler_module_ptr = *mut c_void;

/// C enum `envoy_dynamic_module_type_http_body_type`: which body buffer a body callback acts on.
/// Implementation (abi_impl.cc `getBufferByType`): Received* = the `Buffer::Instance` passed to
/// the current decodeData/encodeData call (only valid inside `on_http_filter_request_body` /
/// `on_http_filter_response_body`, null elsewhere); Buffered* = `decodingBuffer()` /
/// `encodingBuffer()` (data accumulated by earlier StopIterationAndBuffer returns).
pub type envoy_dynamic_module_type_http_body_type = u32;
/// Chunk received in the current request-body event.
pub const envoy_dynamic_module_type_http_body_type_ReceivedRequestBody:
    envoy_dynamic_module_type_http_body_type = 0;
/// Request body buffered so far by the filter manager.
pub const envoy_dynamic_module_type_http_body_type_BufferedRequestBody:
    envoy_dynamic_module_type_http_body_type = 1;
/// Chunk received in the current response-body event.
pub const envoy_dynamic_module_type_http_body_type_ReceivedResponseBody:
    envoy_dynamic_module_type_http_body_type = 2;
/// Response body buffered so far by the filter manager.
pub const envoy_dynamic_module_type_http_body_type_BufferedResponseBody:
    envoy_dynamic_module_type_http_body_type = 3;

/// C enum: return of `on_http_filter_request_headers`; == Envoy `FilterHeadersStatus`
/// (Envoy `static_cast`s it).
pub type envoy_dynamic_module_type_on_http_filter_request_headers_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_request_headers_status_Continue:
    envoy_dynamic_module_type_on_http_filter_request_headers_status = 0;
/// StopIteration
pub const envoy_dynamic_module_type_on_http_filter_request_headers_status_StopIteration:
    envoy_dynamic_module_type_on_http_filter_request_headers_status = 1;
/// ContinueAndDontEndStream
pub const envoy_dynamic_module_type_on_http_filter_request_headers_status_ContinueAndDontEndStream: envoy_dynamic_module_type_on_http_filter_request_headers_status = 2;
/// StopAllIterationAndBuffer
pub const envoy_dynamic_module_type_on_http_filter_request_headers_status_StopAllIterationAndBuffer: envoy_dynamic_module_type_on_http_filter_request_headers_status = 3;
/// StopAllIterationAndWatermark
pub const envoy_dynamic_module_type_on_http_filter_request_headers_status_StopAllIterationAndWatermark: envoy_dynamic_module_type_on_http_filter_request_headers_status = 4;

/// C enum: return of `on_http_filter_request_body`; == Envoy `FilterDataStatus`.
pub type envoy_dynamic_module_type_on_http_filter_request_body_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_request_body_status_Continue:
    envoy_dynamic_module_type_on_http_filter_request_body_status = 0;
/// StopIterationAndBuffer
pub const envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationAndBuffer:
    envoy_dynamic_module_type_on_http_filter_request_body_status = 1;
/// StopIterationAndWatermark
pub const envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationAndWatermark:
    envoy_dynamic_module_type_on_http_filter_request_body_status = 2;
/// StopIterationNoBuffer
pub const envoy_dynamic_module_type_on_http_filter_request_body_status_StopIterationNoBuffer:
    envoy_dynamic_module_type_on_http_filter_request_body_status = 3;

/// C enum: return of `on_http_filter_request_trailers`; == Envoy `FilterTrailersStatus`.
pub type envoy_dynamic_module_type_on_http_filter_request_trailers_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_request_trailers_status_Continue:
    envoy_dynamic_module_type_on_http_filter_request_trailers_status = 0;
/// StopIteration
pub const envoy_dynamic_module_type_on_http_filter_request_trailers_status_StopIteration:
    envoy_dynamic_module_type_on_http_filter_request_trailers_status = 1;

/// C enum: return of `on_http_filter_response_headers`; == Envoy `FilterHeadersStatus`.
pub type envoy_dynamic_module_type_on_http_filter_response_headers_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_response_headers_status_Continue:
    envoy_dynamic_module_type_on_http_filter_response_headers_status = 0;
/// StopIteration
pub const envoy_dynamic_module_type_on_http_filter_response_headers_status_StopIteration:
    envoy_dynamic_module_type_on_http_filter_response_headers_status = 1;
/// ContinueAndDontEndStream
pub const envoy_dynamic_module_type_on_http_filter_response_headers_status_ContinueAndDontEndStream: envoy_dynamic_module_type_on_http_filter_response_headers_status = 2;
/// StopAllIterationAndBuffer
pub const envoy_dynamic_module_type_on_http_filter_response_headers_status_StopAllIterationAndBuffer: envoy_dynamic_module_type_on_http_filter_response_headers_status = 3;
/// StopAllIterationAndWatermark
pub const envoy_dynamic_module_type_on_http_filter_response_headers_status_StopAllIterationAndWatermark: envoy_dynamic_module_type_on_http_filter_response_headers_status = 4;

/// C enum: return of `on_http_filter_response_body`; == Envoy `FilterDataStatus`.
pub type envoy_dynamic_module_type_on_http_filter_response_body_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_response_body_status_Continue:
    envoy_dynamic_module_type_on_http_filter_response_body_status = 0;
/// StopIterationAndBuffer
pub const envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationAndBuffer:
    envoy_dynamic_module_type_on_http_filter_response_body_status = 1;
/// StopIterationAndWatermark
pub const envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationAndWatermark: envoy_dynamic_module_type_on_http_filter_response_body_status = 2;
/// StopIterationNoBuffer
pub const envoy_dynamic_module_type_on_http_filter_response_body_status_StopIterationNoBuffer:
    envoy_dynamic_module_type_on_http_filter_response_body_status = 3;

/// C enum: return of `on_http_filter_response_trailers`; == Envoy `FilterTrailersStatus`.
pub type envoy_dynamic_module_type_on_http_filter_response_trailers_status = u32;
/// Continue
pub const envoy_dynamic_module_type_on_http_filter_response_trailers_status_Continue:
    envoy_dynamic_module_type_on_http_filter_response_trailers_status = 0;
/// StopIteration
pub const envoy_dynamic_module_type_on_http_filter_response_trailers_status_StopIteration:
    envoy_dynamic_module_type_on_http_filter_response_trailers_status = 1;

/// C enum: return of `on_http_filter_local_reply`; == Envoy `LocalErrorStatus`.
pub type envoy_dynamic_module_type_on_http_filter_local_reply_status = u32;
/// "Continue sending the local reply after onLocalReply has been sent to all filters."
pub const envoy_dynamic_module_type_on_http_filter_local_reply_status_Continue:
    envoy_dynamic_module_type_on_http_filter_local_reply_status = 0;
/// "Continue sending onLocalReply to all filters, but reset the stream once all filters have
/// been informed rather than sending the local reply."
pub const envoy_dynamic_module_type_on_http_filter_local_reply_status_ContinueAndResetStream:
    envoy_dynamic_module_type_on_http_filter_local_reply_status = 1;

/// C enum `envoy_dynamic_module_type_http_filter_stream_reset_reason`: reason argument of
/// `envoy_dynamic_module_callback_http_filter_reset_stream` (main downstream stream;
/// corresponds to `Http::StreamResetReason`).
pub type envoy_dynamic_module_type_http_filter_stream_reset_reason = u32;
/// "a local codec level reset was sent on the stream"
pub const envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalReset:
    envoy_dynamic_module_type_http_filter_stream_reset_reason = 0;
/// "a local codec level refused stream reset was sent on the stream (allowing for retry)"
pub const envoy_dynamic_module_type_http_filter_stream_reset_reason_LocalRefusedStreamReset:
    envoy_dynamic_module_type_http_filter_stream_reset_reason = 1;

// =============================================================================================
// Event hooks (exported by the module, called by Envoy) — function-pointer types.
// Export each as `#[no_mangle] pub unsafe extern "C" fn envoy_dynamic_module_<name>(...)`.
// =============================================================================================

/// `envoy_dynamic_module_on_program_init`. REQUIRED. Called on the main thread exactly once when
/// the module is loaded (not again if the .so is already resident). Returns the module's ABI
/// version as a NUL-terminated string (must stay valid until the function returns; use
/// [`ABI_VERSION`]). Null → "the module will be unloaded immediately" and the config is
/// rejected. Mismatch with the host's version only logs a warning.
pub type on_program_init =
    unsafe extern "C" fn() -> envoy_dynamic_module_type_abi_version_module_ptr;

/// `envoy_dynamic_module_on_http_filter_config_new`. REQUIRED. Main thread, once per
/// `DynamicModuleFilter` config instance. `name` = `filter_name`, `config` = the unwrapped
/// `filter_config` bytes (StringValue/BytesValue value as-is, Struct as JSON); both are
/// Envoy-owned and only valid during this call (copy them). Define all metrics here (stats
/// creation is frozen once this returns). Return null → the filter configuration is rejected.
pub type on_http_filter_config_new =
    unsafe extern "C" fn(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        name: envoy_dynamic_module_type_envoy_buffer,
        config: envoy_dynamic_module_type_envoy_buffer,
    ) -> envoy_dynamic_module_type_http_filter_config_module_ptr;

/// `envoy_dynamic_module_on_http_filter_config_destroy`. REQUIRED. Called when Envoy destroys
/// the config (not called if config_new returned null). Free the in-module config. Thread:
/// not stated (the Envoy config object's destructor; normally the main thread).
pub type on_http_filter_config_destroy = unsafe extern "C" fn(
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
);

/// `envoy_dynamic_module_on_http_filter_per_route_config_new`. Required only if a
/// `DynamicModuleFilterPerRoute` is configured. Main thread. `name` = `per_route_config_name`,
/// `config` = unwrapped `filter_config`. Null → per-route config rejected.
pub type on_http_filter_per_route_config_new =
    unsafe extern "C" fn(
        name: envoy_dynamic_module_type_envoy_buffer,
        config: envoy_dynamic_module_type_envoy_buffer,
    ) -> envoy_dynamic_module_type_http_filter_per_route_config_module_ptr;

/// `envoy_dynamic_module_on_http_filter_per_route_config_destroy`. Required with per-route config.
/// Release the per-route config.
pub type on_http_filter_per_route_config_destroy = unsafe extern "C" fn(
    filter_config_ptr: envoy_dynamic_module_type_http_filter_per_route_config_module_ptr,
);

/// `envoy_dynamic_module_on_http_filter_new`. REQUIRED. Called for each HTTP stream (worker
/// thread). `filter_envoy_ptr` stays valid until `on_http_filter_destroy`. Return null →
/// "failure to initialize the module. When it fails, the stream will be closed."
pub type on_http_filter_new =
    unsafe extern "C" fn(
        filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ) -> envoy_dynamic_module_type_http_filter_module_ptr;

/// `envoy_dynamic_module_on_http_filter_request_headers`. REQUIRED. Request headers received
/// (decodeHeaders). `end_of_stream` true if there is no body/trailers.
pub type on_http_filter_request_headers =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
        end_of_stream: bool,
    ) -> envoy_dynamic_module_type_on_http_filter_request_headers_status;

/// `envoy_dynamic_module_on_http_filter_request_body`. REQUIRED. A request data frame arrived
/// (decodeData); the frame is readable as `ReceivedRequestBody` only during this call.
pub type on_http_filter_request_body =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
        end_of_stream: bool,
    ) -> envoy_dynamic_module_type_on_http_filter_request_body_status;

/// `envoy_dynamic_module_on_http_filter_request_trailers`. REQUIRED. Request trailers arrived
/// (implies end of stream).
pub type on_http_filter_request_trailers =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    ) -> envoy_dynamic_module_type_on_http_filter_request_trailers_status;

/// `envoy_dynamic_module_on_http_filter_response_headers`. REQUIRED. Response headers (encodeHeaders;
/// also runs for local replies produced by `send_response`).
pub type on_http_filter_response_headers =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
        end_of_stream: bool,
    ) -> envoy_dynamic_module_type_on_http_filter_response_headers_status;

/// `envoy_dynamic_module_on_http_filter_response_body`. REQUIRED. A response data frame arrived
/// (encodeData); readable as `ReceivedResponseBody` only during this call.
pub type on_http_filter_response_body =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
        end_of_stream: bool,
    ) -> envoy_dynamic_module_type_on_http_filter_response_body_status;

/// `envoy_dynamic_module_on_http_filter_response_trailers`. REQUIRED. Response trailers arrived.
pub type on_http_filter_response_trailers =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    ) -> envoy_dynamic_module_type_on_http_filter_response_trailers_status;

/// `envoy_dynamic_module_on_http_filter_stream_complete`. REQUIRED. "called when the HTTP stream
/// is complete. This is called before envoy_dynamic_module_on_http_filter_destroy and access logs
/// are flushed." Good place for final metrics / dynamic metadata for access logs.
pub type on_http_filter_stream_complete = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
);

/// `envoy_dynamic_module_on_http_filter_destroy`. REQUIRED. Per-stream filter destroyed; free
/// the module filter. After this, `filter_envoy_ptr` must not be used (note: no envoy ptr arg).
pub type on_http_filter_destroy =
    unsafe extern "C" fn(filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr);

/// `envoy_dynamic_module_on_http_filter_http_callout_done`. REQUIRED (symbol must exist even if
/// unused). Response of a per-filter one-shot callout. `headers`/`body_chunks` are Envoy-owned,
/// valid until the hook returns; may be null if the callout failed or the response is empty.
pub type on_http_filter_http_callout_done = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    callout_id: u64,
    result: envoy_dynamic_module_type_http_callout_result,
    headers: *mut envoy_dynamic_module_type_envoy_http_header,
    headers_size: usize,
    body_chunks: *mut envoy_dynamic_module_type_envoy_buffer,
    body_chunks_size: usize,
);

/// `envoy_dynamic_module_on_http_filter_http_stream_headers`. REQUIRED symbol. Response headers of
/// a streamable callout; `headers` valid until the hook returns. `end_stream` = nothing follows.
pub type on_http_filter_http_stream_headers = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    stream_id: u64,
    headers: *mut envoy_dynamic_module_type_envoy_http_header,
    headers_size: usize,
    end_stream: bool,
);

/// `envoy_dynamic_module_on_http_filter_http_stream_data`. REQUIRED symbol. A body chunk of a
/// streamable callout (array of `data_count` buffers, note `const`); valid until the hook returns.
pub type on_http_filter_http_stream_data = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    stream_id: u64,
    data: *const envoy_dynamic_module_type_envoy_buffer,
    data_count: usize,
    end_stream: bool,
);

/// `envoy_dynamic_module_on_http_filter_http_stream_trailers`. REQUIRED symbol. Trailers of a
/// streamable callout; valid until the hook returns.
pub type on_http_filter_http_stream_trailers = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    stream_id: u64,
    trailers: *mut envoy_dynamic_module_type_envoy_http_header,
    trailers_size: usize,
);

/// `envoy_dynamic_module_on_http_filter_http_stream_complete`. REQUIRED symbol. Streamable
/// callout finished successfully; the stream id is invalid afterwards.
pub type on_http_filter_http_stream_complete = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    stream_id: u64,
);

/// `envoy_dynamic_module_on_http_filter_http_stream_reset`. REQUIRED symbol. Streamable callout
/// reset/failed (instead of complete); the stream id is invalid afterwards.
pub type on_http_filter_http_stream_reset = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    stream_id: u64,
    reason: envoy_dynamic_module_type_http_stream_reset_reason,
);

/// `envoy_dynamic_module_on_http_filter_scheduled`. REQUIRED symbol. Runs on the filter's worker
/// thread after `http_filter_scheduler_commit(event_id)`.
pub type on_http_filter_scheduled = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
    event_id: u64,
);

/// `envoy_dynamic_module_on_http_filter_config_scheduled`. OPTIONAL. Runs on the main thread after
/// `http_filter_config_scheduler_commit(event_id)`.
pub type on_http_filter_config_scheduled = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    event_id: u64,
);

/// `envoy_dynamic_module_on_http_filter_config_http_callout_done`. OPTIONAL. Config-level one-shot
/// callout response; buffers valid until return, may be null.
pub type on_http_filter_config_http_callout_done = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    callout_id: u64,
    result: envoy_dynamic_module_type_http_callout_result,
    headers: *mut envoy_dynamic_module_type_envoy_http_header,
    headers_size: usize,
    body_chunks: *mut envoy_dynamic_module_type_envoy_buffer,
    body_chunks_size: usize,
);

/// `envoy_dynamic_module_on_http_filter_config_http_stream_headers`. OPTIONAL.
pub type on_http_filter_config_http_stream_headers = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    stream_id: u64,
    headers: *mut envoy_dynamic_module_type_envoy_http_header,
    headers_size: usize,
    end_stream: bool,
);

/// `envoy_dynamic_module_on_http_filter_config_http_stream_data`. OPTIONAL.
pub type on_http_filter_config_http_stream_data = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    stream_id: u64,
    data: *const envoy_dynamic_module_type_envoy_buffer,
    data_count: usize,
    end_stream: bool,
);

/// `envoy_dynamic_module_on_http_filter_config_http_stream_trailers`. OPTIONAL.
pub type on_http_filter_config_http_stream_trailers = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    stream_id: u64,
    trailers: *mut envoy_dynamic_module_type_envoy_http_header,
    trailers_size: usize,
);

/// `envoy_dynamic_module_on_http_filter_config_http_stream_complete`. OPTIONAL.
pub type on_http_filter_config_http_stream_complete = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    stream_id: u64,
);

/// `envoy_dynamic_module_on_http_filter_config_http_stream_reset`. OPTIONAL.
pub type on_http_filter_config_http_stream_reset = unsafe extern "C" fn(
    filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
    filter_config_ptr: envoy_dynamic_module_type_http_filter_config_module_ptr,
    stream_id: u64,
    reason: envoy_dynamic_module_type_http_stream_reset_reason,
);

/// `envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark`. REQUIRED
/// symbol. Downstream write buffer over high watermark (relevant for terminal filters). May be
/// called several times; the below-low hook is then called an equal number of times.
pub type on_http_filter_downstream_above_write_buffer_high_watermark = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
);

/// `envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark`. REQUIRED
/// symbol. Buffer went from above high watermark back under the low watermark.
pub type on_http_filter_downstream_below_write_buffer_low_watermark = unsafe extern "C" fn(
    filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
);

/// `envoy_dynamic_module_on_http_filter_local_reply`. OPTIONAL. Notified when sendLocalReply is
/// invoked on the stream (including our own `send_response`). `details` is Envoy-owned, valid
/// during the call. `reset_imminent` = a reset will happen instead of the reply. Return Continue
/// (send the reply) or ContinueAndResetStream.
pub type on_http_filter_local_reply =
    unsafe extern "C" fn(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        filter_module_ptr: envoy_dynamic_module_type_http_filter_module_ptr,
        response_code: u32,
        details: envoy_dynamic_module_type_envoy_buffer,
        reset_imminent: bool,
    ) -> envoy_dynamic_module_type_on_http_filter_local_reply_status;

// =============================================================================================
// Callbacks (exported by Envoy, called by the module)
// =============================================================================================

extern "C" {
    // ------------------------------------ Logging ------------------------------------------

    /// Log `message` at `level` to Envoy's `dynamic_modules` logger. `message` is read during
    /// the call only. In the 1.40 binary this is the *deprecated* form: it reports an empty
    /// source location (newer abi_impl.cc comment). Any thread.
    pub fn envoy_dynamic_module_callback_log(
        level: envoy_dynamic_module_type_log_level,
        message: envoy_dynamic_module_type_module_buffer,
    );

    /// **NOT IN HEADER @0199da** (signature from newer `abi_impl.cc`; symbol present in the 1.40
    /// binary). Same as `callback_log` plus the module source location: `source_file` is copied
    /// into a thread-local NUL-terminated buffer (may be (null,0)), `source_line` is the line.
    /// Preferred logging callback for this binary.
    pub fn envoy_dynamic_module_callback_log_v2(
        level: envoy_dynamic_module_type_log_level,
        message: envoy_dynamic_module_type_module_buffer,
        source_file: envoy_dynamic_module_type_module_buffer,
        source_line: u32,
    );

    /// True if `level` is enabled on the `dynamic_modules` logger; cheap, use it to skip
    /// formatting.
    pub fn envoy_dynamic_module_callback_log_enabled(
        level: envoy_dynamic_module_type_log_level,
    ) -> bool;

    /// **NOT IN HEADER @0199da** (from newer `abi_impl.cc`; symbol present in the binary).
    /// Current level of the `dynamic_modules` logger.
    pub fn envoy_dynamic_module_callback_get_log_level() -> envoy_dynamic_module_type_log_level;

    // ------------------------------- Threading / server ------------------------------------

    /// Configured worker count. "NOTE: This function must be called on the main thread." (e.g.
    /// in on_program_init / config_new). Off the main thread the newer host returns 0 after an
    /// ENVOY_BUG.
    pub fn envoy_dynamic_module_callback_get_concurrency() -> u32;

    /// True if Envoy runs with `--mode validate`. Main thread only (e.g. in config_new), so the
    /// module can skip expensive work during validation.
    pub fn envoy_dynamic_module_callback_is_validation_mode() -> bool;

    /// Worker index assigned to this HTTP filter (the worker the stream runs on; range
    /// 0..concurrency is implied, not stated).
    pub fn envoy_dynamic_module_callback_http_filter_get_worker_index(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ) -> u32;

    // ---------------------------------- Metrics --------------------------------------------

    /// Define a counter (template) on the filter config. Call from `on_http_filter_config_new`
    /// (later calls return `Frozen`). `label_names` may be null iff `label_names_length == 0`;
    /// names are read during the call. Writes an opaque id to `*counter_id_ptr`, usable with
    /// `http_filter_increment_counter` (filter ptr created from this config) or
    /// `http_filter_config_increment_counter` (this config ptr).
    pub fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        name: envoy_dynamic_module_type_module_buffer,
        label_names: *mut envoy_dynamic_module_type_module_buffer,
        label_names_length: usize,
        counter_id_ptr: *mut usize,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Define a gauge (template); same rules as define_counter. Id usable with
    /// `http_filter_{increment,decrement,set}_gauge` or `http_filter_config_*_gauge`.
    pub fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        name: envoy_dynamic_module_type_module_buffer,
        label_names: *mut envoy_dynamic_module_type_module_buffer,
        label_names_length: usize,
        gauge_id_ptr: *mut usize,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Define a histogram (template); same rules as define_counter. Id usable with
    /// `http_filter_record_histogram_value` (the header comment says `..._value_vec`, which does
    /// not exist) or `http_filter_config_record_histogram_value`.
    pub fn envoy_dynamic_module_callback_http_filter_config_define_histogram(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        name: envoy_dynamic_module_type_module_buffer,
        label_names: *mut envoy_dynamic_module_type_module_buffer,
        label_names_length: usize,
        histogram_id_ptr: *mut usize,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Increment counter `id` by `value`, called with the **per-stream filter ptr** (whose config
    /// defined the id). `label_values` may be null iff length 0; "THE LENGTH MUST MATCH THE LABEL
    /// NAMES DEFINED DURING COUNTER DEFINITION" (else `InvalidLabels`).
    pub fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Increase gauge `id` by `value` (filter ptr; label rules as increment_counter).
    pub fn envoy_dynamic_module_callback_http_filter_increment_gauge(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Decrease gauge `id` by `value` (filter ptr).
    pub fn envoy_dynamic_module_callback_http_filter_decrement_gauge(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Set gauge `id` to `value` (filter ptr).
    pub fn envoy_dynamic_module_callback_http_filter_set_gauge(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Record `value` in histogram `id` (filter ptr).
    pub fn envoy_dynamic_module_callback_http_filter_record_histogram_value(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Increment counter `id` using the **config ptr** (no stream needed, e.g. background task).
    pub fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Increase gauge `id` using the config ptr.
    pub fn envoy_dynamic_module_callback_http_filter_config_increment_gauge(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Decrease gauge `id` using the config ptr.
    pub fn envoy_dynamic_module_callback_http_filter_config_decrement_gauge(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Set gauge `id` using the config ptr.
    pub fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    /// Record a histogram value using the config ptr.
    pub fn envoy_dynamic_module_callback_http_filter_config_record_histogram_value(
        filter_config_envoy_ptr: envoy_dynamic_module_type_http_filter_config_envoy_ptr,
        id: usize,
        label_values: *mut envoy_dynamic_module_type_module_buffer,
        label_values_length: usize,
        value: u64,
    ) -> envoy_dynamic_module_type_metrics_result;

    // ------------------------------- Headers / trailers ------------------------------------

    /// Get the `index`-th value of header `key` in map `header_type`. Writes the value view to
    /// `*result_buffer` ((null,0) if the key is absent or index out of range) and, if
    /// `optional_size` is non-null, the number of values for `key`. Returns true on success.
    /// Iterate with index 0..count. Values may be non-UTF-8; Envoy-owned, valid until the end of
    /// the current hook unless a setter is called. PRECONDITION: `key`/`result_buffer` valid.
    pub fn envoy_dynamic_module_callback_http_get_header(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
        key: envoy_dynamic_module_type_module_buffer,
        result_buffer: *mut envoy_dynamic_module_type_envoy_buffer,
        index: usize,
        optional_size: *mut usize,
    ) -> bool;

    /// All values of header `key` in one call. PRECONDITION: `result_buffer` has room for the
    /// count reported by `http_get_header(..., optional_size)`. Same lifetime rules.
    pub fn envoy_dynamic_module_callback_http_get_header_values(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
        key: envoy_dynamic_module_type_module_buffer,
        result_buffer: *mut envoy_dynamic_module_type_envoy_buffer,
    ) -> bool;

    /// Number of header entries (a multi-valued key counts once per value) in the map; 0 if none
    /// or unavailable (e.g. response headers during request phase).
    pub fn envoy_dynamic_module_callback_http_get_headers_size(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
    ) -> usize;

    /// Fill `result_headers` (capacity >= `http_get_headers_size`) with all entries. Key/value
    /// views valid until the end of the current hook unless a setter is called. False if the
    /// map is unavailable.
    pub fn envoy_dynamic_module_callback_http_get_headers(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
        result_headers: *mut envoy_dynamic_module_type_envoy_http_header,
    ) -> bool;

    /// Add a value for `key` (header comment is copy-pasted from set_header; the implementation
    /// calls `addHeaderValueImpl`, i.e. appends another value — see notes). Returns false if the
    /// map is unavailable. Does not guarantee the header reaches upstream/downstream.
    pub fn envoy_dynamic_module_callback_http_add_header(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
        key: envoy_dynamic_module_type_module_buffer,
        value: envoy_dynamic_module_type_module_buffer,
    ) -> bool;

    /// Set `key` to `value`, replacing all existing values; creates it if absent. "When the given
    /// value is null, the header will be removed if the key exists." — this is the ONLY removal
    /// mechanism (there is no remove_header callback): pass `value = {ptr: null, length: 0}`.
    pub fn envoy_dynamic_module_callback_http_set_header(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        header_type: envoy_dynamic_module_type_http_header_type,
        key: envoy_dynamic_module_type_module_buffer,
        value: envoy_dynamic_module_type_module_buffer,
    ) -> bool;

    // ---------------------------------- Local reply ----------------------------------------

    /// Send a local reply downstream (Envoy `sendLocalReply`): `status_code`, extra headers
    /// (`headers_vector` may be null iff size 0), `body`, and optional `details` (response code
    /// details, e.g. "rate_limited"; may be (null,0) — newer host then uses "dynamic_module").
    /// All module buffers are read during the call. No-op if the filter is already destroyed.
    pub fn envoy_dynamic_module_callback_http_send_response(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        status_code: u32,
        headers_vector: *mut envoy_dynamic_module_type_module_http_header,
        headers_vector_size: usize,
        body: envoy_dynamic_module_type_module_buffer,
        details: envoy_dynamic_module_type_module_buffer,
    );

    /// Terminal-filter streaming response: send response headers (must include `:status`),
    /// optionally ending the stream.
    pub fn envoy_dynamic_module_callback_http_send_response_headers(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        headers_vector: *mut envoy_dynamic_module_type_module_http_header,
        headers_vector_size: usize,
        end_stream: bool,
    );

    /// Terminal-filter streaming response: send body data, optionally ending the stream.
    pub fn envoy_dynamic_module_callback_http_send_response_data(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        data: envoy_dynamic_module_type_module_buffer,
        end_stream: bool,
    );

    /// Terminal-filter streaming response: send trailers (ends the stream).
    pub fn envoy_dynamic_module_callback_http_send_response_trailers(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        trailers_vector: *mut envoy_dynamic_module_type_module_http_header,
        trailers_vector_size: usize,
    );

    // ------------------------------------- Body --------------------------------------------

    /// Total bytes of the chosen body; 0 if unavailable or empty.
    pub fn envoy_dynamic_module_callback_http_get_body_size(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        body_type: envoy_dynamic_module_type_http_body_type,
    ) -> usize;

    /// Fill `result_buffer_vector` (capacity >= `get_body_chunks_size`) with views of the body's
    /// slices. Views valid until the end of the current hook unless a body setter is called.
    /// False if the body is unavailable.
    pub fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        body_type: envoy_dynamic_module_type_http_body_type,
        result_buffer_vector: *mut envoy_dynamic_module_type_envoy_buffer,
    ) -> bool;

    /// Number of slices in the chosen body; 0 if unavailable or empty.
    pub fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        body_type: envoy_dynamic_module_type_http_body_type,
    ) -> usize;

    /// Append `data` (copied) to the end of the chosen body. False if the body is unavailable.
    /// Caller must fix `content-length` if needed.
    pub fn envoy_dynamic_module_callback_http_append_body(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        body_type: envoy_dynamic_module_type_http_body_type,
        data: envoy_dynamic_module_type_module_buffer,
    ) -> bool;

    /// Drain `number_of_bytes` from the front of the chosen body (whole body if larger). False if
    /// the body is unavailable.
    pub fn envoy_dynamic_module_callback_http_drain_body(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        body_type: envoy_dynamic_module_type_http_body_type,
        number_of_bytes: usize,
    ) -> bool;

    /// True if the latest received request body *is* the previously buffered request body (an
    /// earlier filter buffered and resumed), i.e. Received and Buffered are the same bytes — do
    /// not concatenate them. Meaningful inside `on_http_filter_request_body`.
    pub fn envoy_dynamic_module_callback_http_received_buffered_request_body(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ) -> bool;

    /// Response-side counterpart of `received_buffered_request_body`.
    pub fn envoy_dynamic_module_callback_http_received_buffered_response_body(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ) -> bool;

    // -------------------------------- Stream control ---------------------------------------

    /// Resume decoding (request path) after the filter returned a Stop* status.
    pub fn envoy_dynamic_module_callback_http_filter_continue_decoding(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    );

    /// Resume encoding (response path) after the filter returned a Stop* status.
    pub fn envoy_dynamic_module_callback_http_filter_continue_encoding(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    );

    /// Reset the downstream HTTP stream with `reason`; `details` optional (may be empty). "After
    /// calling this function, no further filter callbacks will be invoked for this stream except
    /// for the destroy callback."
    pub fn envoy_dynamic_module_callback_http_filter_reset_stream(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
        reason: envoy_dynamic_module_type_http_filter_stream_reset_reason,
        details: envoy_dynamic_module_type_module_buffer,
    );

    /// Clear the route cache (re-route after header mutation); no-op in the wrong phase.
    pub fn envoy_dynamic_module_callback_http_clear_route_cache(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    );

    /// Most specific per-route config module pointer for this stream, or null if none.
    pub fn envoy_dynamic_module_callback_get_most_specific_route_config(
        filter_envoy_ptr: envoy_dynamic_module_type_http_filter_envoy_ptr,
    ) -> envoy_dynamic_module_type_http_filter_per_route_config_module_ptr;
}

// Compile-time self-check: the hook type aliases are well-formed function pointer types.
const _: Option<on_program_init> = None;
const _: Option<on_http_filter_new> = None;
