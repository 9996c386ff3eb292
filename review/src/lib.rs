#![doc = include_str!("../README.md")]

pub mod analysis;
pub mod check;
pub mod clock;
pub mod exit;
pub mod inspect;
pub mod test;

pub use exit::Exit;

/// An error whose details are located diagnostics (`file:line:column: error: ...`, one per
/// problem): `gatehouse` prints them as they are, then `error: <summary>`.
#[derive(Debug)]
pub struct Located {
    pub diagnostics: Vec<String>,
    pub summary: String,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Located {}

/// The [`Located`] diagnostics an error of this crate carries, if it carries any.
pub fn located<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Located> {
    if let Some(located) = err.downcast_ref::<Located>() {
        return Some(located);
    }
    match err.downcast_ref::<analysis::PolicyError>() {
        Some(analysis::PolicyError::Invalid(located)) => return Some(located),
        Some(_) => return None,
        None => {}
    }
    match err.downcast_ref::<test::LoadError>() {
        Some(test::LoadError::Invalid(located)) => Some(located),
        _ => None,
    }
}
