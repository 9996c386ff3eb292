//! `gatehouse package`: the policy bundle embedded in gatehouse.wasm, so that a fleet ships policy
//! the way it ships modules (docs/deployment.md).
//!
//! The plugin holds a descriptor (`plugin/src/embedded.rs`): a marker in its data, followed by the
//! table indices of two functions, `len() -> i32` and `copy(dst: i32, len: i32)`, which as built
//! report no bundle. [`embed`] adds a passive data segment holding the bundle and replaces the
//! two bodies (`i32.const LEN`; a `memory.init` of the segment). Every other section is copied
//! byte for byte, so the module's code and linear memory are those of the plugin as built, and
//! the same inputs give the same bytes. [`embedded`] reads a packaged module back the way the
//! plugin will.
//!
//! [`oci`] writes the packaged module as an OCI image layout that Istio's `WasmPlugin` pulls.

use std::ops::Range;

use gatehouse_engine::bundle::EMBEDDED_MARKER as MARKER;
use sha2::{Digest, Sha256};
use wasm_encoder::{CodeSection, DataCountSection, DataSection, Function, Instruction, RawSection};
use wasmparser::{
    DataKind, ElementItems, ElementKind, Operator, Parser, Payload, TypeRef, ValType, Validator,
    WasmFeatures,
};

pub mod oci;

/// The custom section a packaged module carries: the bundle's SHA-256 (32 bytes) and length
/// (8 bytes, little-endian). It marks the module as packaged, so that a second `embed` is
/// refused rather than stacking bundles.
pub const SECTION: &str = "gatehouse.embedded_bundle";

/// Why a module cannot be packaged or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackageError {
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    #[error(
        "not a Gatehouse plugin: {0} (package the gatehouse.wasm this version of gatehouse \
         builds)"
    )]
    NotGatehouse(String),
    #[error(
        "the module already carries an embedded bundle: package the plugin as built \
         (target/wasm32-wasip1/release/gatehouse.wasm), not a packaged one"
    )]
    AlreadyPackaged,
    #[error("the bundle is empty")]
    EmptyBundle,
    #[error("the bundle is {0} bytes: a module holds at most 4 GiB")]
    BundleTooLarge(usize),
    #[error("the embedded bundle is malformed: {0}")]
    Malformed(String),
}

/// `plugin` (gatehouse.wasm as built) with `bundle` embedded. The bundle is not decoded here:
/// callers validate it first (`gatehouse package` loads it with the engine).
pub fn embed(plugin: &[u8], bundle: &[u8]) -> Result<Vec<u8>, PackageError> {
    let module = Module::read(plugin)?;
    if module.packaged.is_some() {
        return Err(PackageError::AlreadyPackaged);
    }
    if bundle.is_empty() {
        return Err(PackageError::EmptyBundle);
    }
    let len =
        u32::try_from(bundle.len()).map_err(|_| PackageError::BundleTooLarge(bundle.len()))?;
    let hooks = module.hooks()?;
    // The new segment comes after every existing one.
    let segment = module.data_count();
    let data_count = segment
        .checked_add(1)
        .ok_or_else(|| PackageError::Invalid("too many data segments".to_owned()))?;
    let mut data = DataSection::new();
    for encoded in &module.data_segments {
        data.raw(encoded);
    }
    data.passive(bundle.iter().copied());

    let mut out = wasm_encoder::Module::new();
    for (id, contents) in &module.sections {
        match *id {
            CODE => {
                if !module.has_data_count {
                    // `memory.init` needs the data count section, which precedes the code.
                    out.section(&DataCountSection { count: data_count });
                }
                out.section(&module.code(hooks, len, segment)?);
                if !module.has_data_section {
                    // The data section follows the code in the binary format.
                    out.section(&data);
                }
            }
            DATA_COUNT => {
                out.section(&DataCountSection { count: data_count });
            }
            DATA => {
                out.section(&data);
            }
            id => {
                out.section(&RawSection { id, data: contents });
            }
        }
    }
    out.section(&wasm_encoder::CustomSection {
        name: SECTION.into(),
        data: note(bundle).into(),
    });
    let packaged = out.finish();
    // What was written must read back as the bundle, the way the plugin will read it.
    match embedded(&packaged)? {
        Some(read) if read == bundle => Ok(packaged),
        _ => Err(malformed(
            "the packaged module does not read back as the bundle",
        )),
    }
}

/// The bundle embedded in `module`, as the plugin will read it; `None` for a plugin as built.
pub fn embedded(module: &[u8]) -> Result<Option<Vec<u8>>, PackageError> {
    let parsed = Module::read(module)?;
    let Some(recorded) = parsed.packaged else {
        return Ok(None);
    };
    let hooks = parsed.hooks()?;
    let len = match parsed.body_operators(hooks.len)?.as_slice() {
        [Operator::I32Const { value }, Operator::End] => *value as u32,
        _ => return Err(malformed("`len` is not an `i32.const`")),
    };
    let segment = match parsed.body_operators(hooks.copy)?.as_slice() {
        [Operator::LocalGet { local_index: 0 }, Operator::I32Const { value: 0 }, Operator::LocalGet { local_index: 1 }, Operator::MemoryInit { data_index, mem: 0 }, Operator::End] => {
            *data_index
        }
        _ => return Err(malformed("`copy` is not a `memory.init`")),
    };
    let bundle = parsed
        .passive
        .iter()
        .find(|(index, _)| *index == segment)
        .map(|(_, data)| *data)
        .ok_or_else(|| malformed("`copy` names no passive data segment"))?;
    if usize::try_from(len).ok() != Some(bundle.len()) {
        return Err(malformed("`len` is not the segment's length"));
    }
    if recorded != note(bundle).as_slice() {
        return Err(malformed(
            "its digest differs from the one recorded when it was packaged",
        ));
    }
    Ok(Some(bundle.to_vec()))
}

/// SHA-256 of `bytes`, lowercase hex: what Envoy's remote `vm_config.code` pins.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const CODE: u8 = 10;
const DATA: u8 = 11;
const DATA_COUNT: u8 = 12;

/// The contents of the [`SECTION`] custom section for `bundle`.
fn note(bundle: &[u8]) -> Vec<u8> {
    let mut note = Sha256::digest(bundle).to_vec();
    note.extend_from_slice(&(bundle.len() as u64).to_le_bytes());
    note
}

fn malformed(why: &str) -> PackageError {
    PackageError::Malformed(why.to_owned())
}

/// The two functions the descriptor points at (function indices).
#[derive(Debug, Clone, Copy)]
struct Hooks {
    len: u32,
    copy: u32,
}

/// What packaging needs to know of a module, read once.
#[derive(Debug, Default)]
struct Module<'a> {
    /// Every section in order: id and contents.
    sections: Vec<(u8, &'a [u8])>,
    /// Imported functions come first in the function index space.
    imported_functions: u32,
    /// Function index -> (params, results).
    signatures: Vec<(Vec<ValType>, Vec<ValType>)>,
    /// Table 0, from active element segments at constant offsets: slot -> function index.
    table: Vec<(u32, u32)>,
    /// Active data segments of memory 0 at constant offsets: address and bytes.
    active: Vec<(u32, &'a [u8])>,
    /// Passive data segments: index and bytes.
    passive: Vec<(u32, &'a [u8])>,
    /// Every data segment as encoded, in order.
    data_segments: Vec<&'a [u8]>,
    has_data_count: bool,
    has_data_section: bool,
    /// Function bodies (locals and code) of the defined functions, in order.
    bodies: Vec<wasmparser::FunctionBody<'a>>,
    /// The contents of the [`SECTION`] custom section, when present.
    packaged: Option<&'a [u8]>,
}

impl<'a> Module<'a> {
    fn read(bytes: &'a [u8]) -> Result<Module<'a>, PackageError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(PackageError::Invalid(
                "no `\\0asm` header: not a .wasm file".to_owned(),
            ));
        }
        let types = Validator::new_with_features(WasmFeatures::default())
            .validate_all(bytes)
            .map_err(invalid)?;
        let mut module = Module::default();
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(invalid)?;
            if let Some((id, range)) = payload.as_section() {
                module.sections.push((id, slice(bytes, &range)?));
            }
            match payload {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        if matches!(
                            import.map_err(invalid)?.ty,
                            TypeRef::Func(_) | TypeRef::FuncExact(_)
                        ) {
                            module.imported_functions += 1;
                        }
                    }
                }
                Payload::ElementSection(reader) => {
                    for element in reader {
                        module.read_element(element.map_err(invalid)?)?;
                    }
                }
                Payload::DataCountSection { .. } => module.has_data_count = true,
                Payload::DataSection(reader) => {
                    module.has_data_section = true;
                    for (index, segment) in (0u32..).zip(reader) {
                        let segment = segment.map_err(invalid)?;
                        module.data_segments.push(slice(bytes, &segment.range)?);
                        match segment.kind {
                            DataKind::Passive => module.passive.push((index, segment.data)),
                            DataKind::Active {
                                memory_index: 0,
                                offset_expr,
                            } => {
                                if let Some(address) = const_i32(&offset_expr) {
                                    module.active.push((address, segment.data));
                                }
                            }
                            DataKind::Active { .. } => {}
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => module.bodies.push(body),
                Payload::CustomSection(section) if section.name() == SECTION => {
                    module.packaged = Some(section.data());
                }
                _ => {}
            }
        }
        let types = types.as_ref();
        for index in 0..types.function_count() {
            let signature = match types.get(types.core_function_at(index)) {
                Some(sub) => match &sub.composite_type.inner {
                    wasmparser::CompositeInnerType::Func(func) => {
                        (func.params().to_vec(), func.results().to_vec())
                    }
                    _ => (Vec::new(), Vec::new()),
                },
                None => (Vec::new(), Vec::new()),
            };
            module.signatures.push(signature);
        }
        Ok(module)
    }

    fn read_element(&mut self, element: wasmparser::Element<'a>) -> Result<(), PackageError> {
        let ElementKind::Active {
            table_index: None | Some(0),
            offset_expr,
        } = element.kind
        else {
            return Ok(());
        };
        let Some(offset) = const_i32(&offset_expr) else {
            return Ok(());
        };
        match element.items {
            ElementItems::Functions(functions) => {
                for (slot, function) in (offset..).zip(functions) {
                    self.table.push((slot, function.map_err(invalid)?));
                }
            }
            ElementItems::Expressions(_, expressions) => {
                for (slot, expression) in (offset..).zip(expressions) {
                    let mut ops = expression.map_err(invalid)?.get_operators_reader();
                    if let Ok(Operator::RefFunc { function_index }) = ops.read() {
                        self.table.push((slot, function_index));
                    }
                }
            }
        }
        Ok(())
    }

    fn data_count(&self) -> u32 {
        u32::try_from(self.data_segments.len()).unwrap_or(u32::MAX)
    }

    /// The descriptor's two functions: found through the marker, their signatures checked.
    fn hooks(&self) -> Result<Hooks, PackageError> {
        let not_gatehouse = |why: String| PackageError::NotGatehouse(why);
        let mut found = Vec::new();
        for (_, data) in &self.active {
            let mut rest: &[u8] = data;
            while let Some(at) = rest.windows(MARKER.len()).position(|w| w == MARKER) {
                let after = rest.get(at + MARKER.len()..).unwrap_or_default();
                found.push(after);
                rest = after;
            }
        }
        let after = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(not_gatehouse(
                    "its data holds no embedded-bundle descriptor".to_owned(),
                ))
            }
            _ => {
                return Err(not_gatehouse(
                    "its data holds more than one embedded-bundle descriptor".to_owned(),
                ))
            }
        };
        let slot = |at: usize| -> Result<u32, PackageError> {
            let bytes = after
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .ok_or_else(|| not_gatehouse("the descriptor is truncated".to_owned()))?;
            let slot = u32::from_le_bytes(bytes);
            self.table
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, function)| *function)
                .ok_or_else(|| not_gatehouse(format!("table slot {slot} holds no function")))
        };
        let hooks = Hooks {
            len: slot(0)?,
            copy: slot(4)?,
        };
        if hooks.len == hooks.copy {
            return Err(not_gatehouse(
                "the descriptor's two functions are one".to_owned(),
            ));
        }
        self.check_signature(hooks.len, "len", &[], &[ValType::I32])?;
        self.check_signature(hooks.copy, "copy", &[ValType::I32, ValType::I32], &[])?;
        Ok(hooks)
    }

    fn check_signature(
        &self,
        function: u32,
        what: &str,
        params: &[ValType],
        results: &[ValType],
    ) -> Result<(), PackageError> {
        if function < self.imported_functions {
            return Err(PackageError::NotGatehouse(format!(
                "the descriptor's `{what}` is an imported function"
            )));
        }
        match usize::try_from(function)
            .ok()
            .and_then(|f| self.signatures.get(f))
        {
            Some((p, r)) if p == params && r == results => Ok(()),
            _ => Err(PackageError::NotGatehouse(format!(
                "the descriptor's `{what}` has the wrong signature"
            ))),
        }
    }

    fn body(&self, function: u32) -> Result<&wasmparser::FunctionBody<'a>, PackageError> {
        function
            .checked_sub(self.imported_functions)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.bodies.get(i))
            .ok_or_else(|| PackageError::Invalid(format!("function {function} has no body")))
    }

    /// The operators of `function`'s body, which must declare no locals.
    fn body_operators(&self, function: u32) -> Result<Vec<Operator<'a>>, PackageError> {
        let body = self.body(function)?;
        if body.get_locals_reader().map_err(invalid)?.get_count() != 0 {
            return Err(malformed("a replaced body declares locals"));
        }
        let mut ops = body.get_operators_reader().map_err(invalid)?;
        let mut out = Vec::new();
        while !ops.eof() {
            out.push(ops.read().map_err(invalid)?);
        }
        Ok(out)
    }

    /// The code section with the two hooks' bodies replaced.
    fn code(&self, hooks: Hooks, len: u32, segment: u32) -> Result<CodeSection, PackageError> {
        let mut len_body = Function::new([]);
        // The bit pattern of `len`: the plugin reads the result as u32.
        len_body
            .instruction(&Instruction::I32Const(len as i32))
            .instruction(&Instruction::End);
        let mut copy_body = Function::new([]);
        copy_body
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::LocalGet(1))
            .instruction(&Instruction::MemoryInit {
                mem: 0,
                data_index: segment,
            })
            .instruction(&Instruction::End);
        let mut code = CodeSection::new();
        for (function, body) in (self.imported_functions..).zip(&self.bodies) {
            if function == hooks.len {
                code.function(&len_body);
            } else if function == hooks.copy {
                code.function(&copy_body);
            } else {
                code.raw(body.as_bytes());
            }
        }
        Ok(code)
    }
}

fn invalid(e: wasmparser::BinaryReaderError) -> PackageError {
    PackageError::Invalid(e.to_string())
}

fn const_i32(expr: &wasmparser::ConstExpr<'_>) -> Option<u32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (Operator::I32Const { value }, Operator::End) => Some(value as u32),
        _ => None,
    }
}

fn slice<'a>(bytes: &'a [u8], range: &Range<u64>) -> Result<&'a [u8], PackageError> {
    let start = usize::try_from(range.start).ok();
    let end = usize::try_from(range.end).ok();
    start
        .zip(end)
        .and_then(|(start, end)| bytes.get(start..end))
        .ok_or_else(|| PackageError::Invalid("a range outside the module".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        ConstExpr, DataSegment, DataSegmentMode, ElementSection, Elements, EntityType, ExportKind,
        ExportSection, FunctionSection, ImportSection, MemorySection, MemoryType, RefType,
        TableSection, TableType, TypeSection, ValType as V,
    };

    /// A module shaped like gatehouse.wasm where it matters: an imported function first (so
    /// function and body indices differ), the descriptor in active data, its two functions in
    /// table 0 at slots 1 and 2, and `data` before the descriptor.
    fn plugin_like(descriptor: &[u8], len_type: u32) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], [V::I32]); // 0: len
        types.ty().function([V::I32, V::I32], []); // 1: copy
        types.ty().function([], []); // 2: other
        let mut imports = ImportSection::new();
        imports.import("env", "imported", EntityType::Function(2));
        let mut functions = FunctionSection::new();
        functions.function(len_type); // 1
        functions.function(1); // 2
        functions.function(2); // 3
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            minimum: 3,
            maximum: Some(3),
            table64: false,
            shared: false,
        });
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export("proxy_abi_version_0_2_1", ExportKind::Func, 3);
        let mut elements = ElementSection::new();
        elements.active(
            Some(0),
            &ConstExpr::i32_const(1),
            Elements::Functions([1u32, 2].as_slice().into()),
        );
        let mut code = CodeSection::new();
        let mut len = Function::new([]);
        len.instruction(&Instruction::I32Const(0))
            .instruction(&Instruction::End);
        let mut copy = Function::new([]);
        copy.instruction(&Instruction::End);
        let mut other = Function::new([]);
        other
            .instruction(&Instruction::Call(0))
            .instruction(&Instruction::End);
        if len_type == 0 {
            code.function(&len);
        } else {
            code.function(&other);
        }
        code.function(&copy).function(&other);
        let mut data = DataSection::new();
        data.segment(DataSegment {
            mode: DataSegmentMode::Active {
                memory_index: 0,
                offset: &ConstExpr::i32_const(1024),
            },
            data: [b"rodata before it".as_slice(), descriptor].concat(),
        });
        let mut module = wasm_encoder::Module::new();
        module
            .section(&types)
            .section(&imports)
            .section(&functions)
            .section(&tables)
            .section(&memories)
            .section(&exports)
            .section(&elements)
            .section(&code)
            .section(&data);
        module.finish()
    }

    fn descriptor(len_slot: u32, copy_slot: u32) -> Vec<u8> {
        [
            MARKER.as_slice(),
            &len_slot.to_le_bytes(),
            &copy_slot.to_le_bytes(),
        ]
        .concat()
    }

    pub(super) fn plugin() -> Vec<u8> {
        plugin_like(&descriptor(1, 2), 0)
    }

    /// Every section but the code, data and data count sections, and the packaging note.
    fn untouched_sections(module: &[u8]) -> Vec<(u8, Vec<u8>)> {
        Parser::new(0)
            .parse_all(module)
            .filter_map(|p| {
                let p = p.unwrap();
                if matches!(&p, Payload::CustomSection(c) if c.name() == SECTION) {
                    return None;
                }
                let (id, range) = p.as_section()?;
                (![CODE, DATA, DATA_COUNT].contains(&id))
                    .then(|| (id, slice(module, &range).unwrap().to_vec()))
            })
            .collect()
    }

    #[test]
    fn embeds_and_reads_back() {
        let plugin = plugin();
        assert_eq!(embedded(&plugin).unwrap(), None);
        let bundle = b"GATEHSE\x01 a bundle".repeat(100);
        let packaged = embed(&plugin, &bundle).unwrap();
        Validator::new_with_features(WasmFeatures::default())
            .validate_all(&packaged)
            .unwrap();
        assert_eq!(embedded(&packaged).unwrap(), Some(bundle.clone()));
        // Deterministic, and nothing else of the module changed (code, tables, memory, data).
        assert_eq!(embed(&plugin, &bundle).unwrap(), packaged);
        assert_eq!(untouched_sections(&packaged), untouched_sections(&plugin));
        let segments = |module: &[u8]| -> Vec<Vec<u8>> {
            let parsed = Module::read(module).unwrap();
            parsed.data_segments.iter().map(|s| s.to_vec()).collect()
        };
        let (before, after) = (segments(&plugin), segments(&packaged));
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after[..before.len()], before[..]);
        let parsed = Module::read(&packaged).unwrap();
        assert_eq!(parsed.passive.len(), 1);
        assert!(parsed.has_data_count);
        // The function that is no hook keeps its body.
        let other = |m: &Module<'_>| m.body(3).unwrap().as_bytes().to_vec();
        assert_eq!(other(&parsed), other(&Module::read(&plugin).unwrap()));
        // Another bundle, another module; the same plugin either way.
        let other_bundle = embed(&plugin, b"GATEHSE\x01 another").unwrap();
        assert_ne!(other_bundle, packaged);
        assert_eq!(
            embedded(&other_bundle).unwrap().as_deref(),
            Some(b"GATEHSE\x01 another".as_slice())
        );
        assert_eq!(sha256_hex(b"abc").len(), 64);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn embedding_twice_is_refused() {
        let packaged = embed(&plugin(), b"first").unwrap();
        assert_eq!(
            embed(&packaged, b"second"),
            Err(PackageError::AlreadyPackaged)
        );
    }

    #[test]
    fn refuses_what_is_not_a_gatehouse_plugin() {
        let refused = |module: &[u8], why: &str| match embed(module, b"bundle") {
            Err(PackageError::NotGatehouse(message)) => {
                assert!(message.contains(why), "`{message}` does not say `{why}`")
            }
            other => panic!("expected a refusal ({why}), got {other:?}"),
        };
        assert!(matches!(
            embed(b"GATEHSE\x01", b"bundle"),
            Err(PackageError::Invalid(_))
        ));
        assert!(matches!(
            embed(b"\0asm\x01\0\0\0\x01", b"bundle"),
            Err(PackageError::Invalid(_))
        ));
        refused(
            &plugin_like(b"no marker here", 0),
            "no embedded-bundle descriptor",
        );
        let twice = [descriptor(1, 2), descriptor(1, 2)].concat();
        refused(&plugin_like(&twice, 0), "more than one");
        refused(&plugin_like(&descriptor(1, 2)[..22], 0), "truncated");
        refused(
            &plugin_like(&descriptor(1, 7), 0),
            "slot 7 holds no function",
        );
        refused(&plugin_like(&descriptor(1, 1), 0), "are one");
        refused(
            &plugin_like(&descriptor(2, 1), 0),
            "`len` has the wrong signature",
        );
        refused(
            &plugin_like(&descriptor(1, 2), 2),
            "`len` has the wrong signature",
        );
        assert_eq!(embed(&plugin(), b""), Err(PackageError::EmptyBundle));
    }

    #[test]
    fn a_tampered_embedded_bundle_is_refused() {
        let bundle = b"GATEHSE\x01 the bundle that was packaged".to_vec();
        let mut packaged = embed(&plugin(), &bundle).unwrap();
        let at = packaged
            .windows(bundle.len())
            .position(|w| w == bundle.as_slice())
            .unwrap();
        packaged[at + 12] ^= 0x20;
        assert!(matches!(
            embedded(&packaged),
            Err(PackageError::Malformed(_))
        ));
    }
}
