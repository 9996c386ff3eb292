//! The fuzz targets on a stable toolchain: every seed, every file already in `corpus/<target>/`,
//! `artifacts/<target>/` and `regressions/<target>/`, then deterministic mutations of the seeds
//! (bit flips, truncations, insertions, splices). `GATEHOUSE_FUZZ_ITERS` sets the number of
//! mutated inputs per target (default 2000); `GATEHOUSE_FUZZ_TARGETS` (names separated by
//! spaces) runs only those targets.

use std::path::Path;

use gatehouse_fuzz::seeds::{seeds, TARGETS};

fn run(target: &str, data: &[u8]) {
    match target {
        "bundle_decode" => gatehouse_fuzz::bundle_decode(data),
        "token" => gatehouse_fuzz::token(data),
        "claims" => gatehouse_fuzz::claims(data),
        "route" => gatehouse_fuzz::route(data),
        "body" => gatehouse_fuzz::body(data),
        "compile_yaml" => gatehouse_fuzz::compile_yaml(data),
        "es256" => gatehouse_fuzz::es256(data),
        "authority" => gatehouse_fuzz::authority(data),
        "api_key" => gatehouse_fuzz::api_key(data),
        "mcp_trim" => gatehouse_fuzz::mcp_trim(data),
        "native_glue" => gatehouse_fuzz::native_glue(data),
        other => panic!("no target {other}"),
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.truncate(rng.below(data.len() + 1)),
            2 => {
                let i = rng.below(data.len() + 1);
                let byte =
                    [0u8, 0xff, b'.', b'"', b'{', b'}', b'\n', b'/', b'%', b':'][rng.below(10)];
                data.insert(i, byte);
            }
            3 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            4 => {
                let cut = rng.below(data.len() + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            _ if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let chunk = data[start..end].to_vec();
                data.splice(start..start, chunk);
            }
            _ => {}
        }
    }
    data
}

fn replay_dir(target: &str, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        if let Ok(data) = std::fs::read(entry.path()) {
            run(target, &data);
            n += 1;
        }
    }
    n
}

#[test]
fn targets_survive_seeds_corpus_and_mutations() {
    let iters: usize = std::env::var("GATEHOUSE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let only = std::env::var("GATEHOUSE_FUZZ_TARGETS").unwrap_or_default();
    let only: Vec<&str> = only.split_whitespace().collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for target in TARGETS {
        if !only.is_empty() && !only.contains(&target) {
            continue;
        }
        let seeds = seeds(target);
        assert!(seeds.len() >= 3, "{target}: only {} seeds", seeds.len());
        for seed in &seeds {
            run(target, seed);
        }
        let stored: usize = ["corpus", "artifacts", "regressions"]
            .iter()
            .map(|d| replay_dir(target, &root.join(d)))
            .sum();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
        for _ in 0..iters {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            run(target, &mutate(&mut rng, a, b));
        }
        println!(
            "{target}: {} seeds, {stored} stored inputs, {iters} mutations",
            seeds.len()
        );
    }
}
