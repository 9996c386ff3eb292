//! The exit status of every `gatehouse` command.

/// The exit status of every `gatehouse` command, one definition for the CLI and the scripts and
/// CI jobs that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done; for `check`, allowed.
    Success = 0,
    /// 1: bad input, an unreadable or rejected bundle, a usage error.
    Error = 1,
    /// 2: the answer is negative: `check` denied.
    Negative = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}
