//! The metrics the request flow counts, by name and by [`Event`], once for both builds: the wasm
//! filter keeps a proxy-wasm metric id per counter (`metrics.rs`), the native module an Envoy
//! counter id (`module/src/filter.rs`). Envoy shows them under its prefix for the build
//! (`wasmcustom.` or `dynamicmodulescustom.`), with the same names.

use gatehouse_engine::Reason;

use crate::flow::Event;

/// One handle `C` per metric the request flow counts.
#[derive(Debug, Default)]
pub struct Counters<C> {
    pub allowed: C,
    pub denied: C,
    pub denied_by_reason: Vec<(Reason, C)>,
    pub dry_run_denied: C,
    /// MCP routes: protected-resource metadata documents served, JSON-RPC refusals sent, tools
    /// listed by upstreams, tools removed from lists, and lists replaced by an error.
    pub mcp_metadata: C,
    pub mcp_refusals: C,
    pub mcp_tools_listed: C,
    pub mcp_tools_removed: C,
    pub mcp_lists_refused: C,
    pub token_cache_hits: C,
    pub token_cache_misses: C,
    pub token_cache_evictions: C,
    /// A gauge: the entries of the verified-token caches, summed over the VMs or workers.
    pub token_cache_entries: C,
}

impl<C> Counters<C> {
    /// Every metric, defined up front so dashboards see zeros rather than missing series.
    pub fn define(mut counter: impl FnMut(&str) -> C, gauge: impl FnOnce(&str) -> C) -> Self {
        Counters {
            allowed: counter("gatehouse.allowed"),
            denied: counter("gatehouse.denied"),
            denied_by_reason: Reason::ALL
                .iter()
                .map(|r| (*r, counter(&format!("gatehouse.denied.{}", r.code()))))
                .collect(),
            dry_run_denied: counter("gatehouse.dry_run_denied"),
            mcp_metadata: counter("gatehouse.mcp.metadata_served"),
            mcp_refusals: counter("gatehouse.mcp.jsonrpc_refusals"),
            mcp_tools_listed: counter("gatehouse.mcp.tools_listed"),
            mcp_tools_removed: counter("gatehouse.mcp.tools_removed"),
            mcp_lists_refused: counter("gatehouse.mcp.lists_refused"),
            token_cache_hits: counter("gatehouse.token_cache_hits"),
            token_cache_misses: counter("gatehouse.token_cache_misses"),
            token_cache_evictions: counter("gatehouse.token_cache_evictions"),
            token_cache_entries: gauge("gatehouse.token_cache_entries"),
        }
    }

    /// What `event` adds: `add(counter, n)` for each counter it moves. A denial counts under
    /// its reason as well, enforced or dry-run.
    pub fn record(&self, event: Event, mut add: impl FnMut(&C, i64)) {
        let n = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        match event {
            Event::Allowed => add(&self.allowed, 1),
            Event::Denied(reason) => {
                add(&self.denied, 1);
                self.reason(reason, add);
            }
            Event::DryRunDenied(reason) => {
                add(&self.dry_run_denied, 1);
                self.reason(reason, add);
            }
            Event::MetadataServed => add(&self.mcp_metadata, 1),
            Event::JsonRpcRefusal => add(&self.mcp_refusals, 1),
            Event::ToolsTrimmed { listed, kept } => {
                add(&self.mcp_tools_listed, n(listed));
                add(&self.mcp_tools_removed, n(listed.saturating_sub(kept)));
            }
            Event::ToolsListRefused => add(&self.mcp_lists_refused, 1),
            Event::TokenLookup { hit: true } => add(&self.token_cache_hits, 1),
            Event::TokenLookup { hit: false } => add(&self.token_cache_misses, 1),
        }
    }

    fn reason(&self, reason: Reason, mut add: impl FnMut(&C, i64)) {
        if let Some((_, counter)) = self.denied_by_reason.iter().find(|(r, _)| *r == reason) {
            add(counter, 1);
        }
    }

    /// Every handle, the gauge included.
    pub fn all(&self) -> impl Iterator<Item = &C> {
        [
            &self.allowed,
            &self.denied,
            &self.dry_run_denied,
            &self.mcp_metadata,
            &self.mcp_refusals,
            &self.mcp_tools_listed,
            &self.mcp_tools_removed,
            &self.mcp_lists_refused,
            &self.token_cache_hits,
            &self.token_cache_misses,
            &self.token_cache_evictions,
            &self.token_cache_entries,
        ]
        .into_iter()
        .chain(self.denied_by_reason.iter().map(|(_, c)| c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_counter_and_events_add_where_they_say() {
        let counters = Counters::define(str::to_owned, str::to_owned);
        assert_eq!(counters.denied_by_reason.len(), Reason::ALL.len());
        assert_eq!(counters.all().count(), 12 + Reason::ALL.len());
        let mut seen = Vec::new();
        counters.record(Event::Denied(Reason::NoGrant), |c, n| {
            seen.push((c.clone(), n))
        });
        counters.record(Event::ToolsTrimmed { listed: 5, kept: 2 }, |c, n| {
            seen.push((c.clone(), n))
        });
        assert_eq!(
            seen,
            [
                ("gatehouse.denied".to_owned(), 1),
                ("gatehouse.denied.no_grant".to_owned(), 1),
                ("gatehouse.mcp.tools_listed".to_owned(), 5),
                ("gatehouse.mcp.tools_removed".to_owned(), 3),
            ]
        );
    }
}
