#![doc = include_str!("../README.md")]

#[cfg(feature = "analysis")]
pub mod analysis;
pub mod authority;
pub mod bundle;
pub mod cache;
pub mod credential;
pub mod decide;
pub mod escape;
pub mod fold;
pub mod headers;
pub mod json;
pub mod jwt;
pub mod logsafe;
pub mod mcp;
pub mod model;
pub mod reason;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod reference;
pub mod request;
pub mod route;
pub mod trust;

pub use bundle::{Bundle, LoadError, LoadOptions};
pub use decide::{
    Decision, Engine, Identity, Outcome, Policy, Principal, Request, SharedTokenCache,
    ToolsListGrant,
};
pub use reason::{ErrorKind, Reason};
