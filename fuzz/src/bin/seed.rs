//! Writes the seed corpus of every target to `corpus/<target>/` (or of the targets named).

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for target in gatehouse_fuzz::seeds::TARGETS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == target) {
            continue;
        }
        let out = dir.join(target);
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("error: creating `{}`: {e}", out.display());
            std::process::exit(1);
        }
        let seeds = gatehouse_fuzz::seeds::seeds(target);
        for (i, seed) in seeds.iter().enumerate() {
            if let Err(e) = std::fs::write(out.join(format!("seed-{i:04}")), seed) {
                eprintln!("error: writing seed: {e}");
                std::process::exit(1);
            }
        }
        println!("{target}: {} seeds in {}", seeds.len(), out.display());
    }
}
