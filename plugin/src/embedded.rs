//! The policy bundle `gatehouse package` embeds in the module, for a plugin configuration that
//! carries none (docs/deployment.md, "Embedded bundle").
//!
//! The module holds a [`Descriptor`]: a fixed marker followed by two function pointers. As
//! built, the two functions say "no bundle". `gatehouse package` finds the marker in the module's
//! data, follows the pointers (table indices) to the two functions, adds a passive data segment
//! holding the bundle, and replaces their bodies: `len` returns the segment's length, `copy` is
//! a `memory.init` of that segment. Nothing else in the module changes, linear memory included:
//! the bundle is copied out of the segment into a buffer this module allocates, once per
//! configuration.
//!
//! The functions are reached only through the descriptor, read through `black_box`, so the
//! optimiser can neither inline them nor fold their results: the bodies the packager writes are
//! the ones that run. (Exported functions would be simpler to find, but exporting a function by
//! name needs `#[no_mangle]`, which this workspace forbids with `unsafe_code`.)

use core::hint::black_box;

/// The marker `gatehouse package` looks for (one definition, shared with the packager).
pub use gatehouse_engine::bundle::EMBEDDED_MARKER as MARKER;

/// What the packager finds in the module's data, at the marker: `repr(C)`, so the two pointers
/// (wasm32 table indices, 4 bytes little-endian each) follow the marker in this order.
#[repr(C)]
#[derive(Debug)]
pub struct Descriptor {
    marker: [u8; 16],
    /// `() -> i32`: the embedded bundle's length in bytes; 0 when none is embedded.
    len: extern "C" fn() -> u32,
    /// `(dst: i32, len: i32) -> ()`: copy the first `len` bytes of the bundle to `dst`. Traps
    /// (and so fails the VM, which fails closed) when `len` exceeds the bundle.
    copy: extern "C" fn(*mut u8, u32),
}

static DESCRIPTOR: Descriptor = Descriptor {
    marker: MARKER,
    len: embedded_len,
    copy: embedded_copy,
};

// The bodies below are what a module that was not packaged runs. Each reads the marker so that
// no other function of the module can have an identical body (and be merged with it).

#[inline(never)]
extern "C" fn embedded_len() -> u32 {
    black_box(&DESCRIPTOR.marker);
    black_box(0)
}

#[inline(never)]
extern "C" fn embedded_copy(dst: *mut u8, len: u32) {
    black_box((&DESCRIPTOR.marker, dst, len));
}

/// The bundle embedded in this module, or `None` when the module was not packaged.
pub fn bundle() -> Option<Vec<u8>> {
    let descriptor = black_box(&DESCRIPTOR);
    let len = (descriptor.len)();
    if len == 0 {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    (descriptor.copy)(bytes.as_mut_ptr(), len);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_as_built_embeds_nothing() {
        assert_eq!(bundle(), None);
    }
}
