//! [`NatBackend`] on nftables' JSON: built with the `nftables` crate, one batch per change, run by
//! libnftables or the `nft` command ([`NftRunner`]) in the network namespace of the calling thread.

use std::ffi::OsString;
use std::sync::Mutex;

use nftables::batch::Batch;
use nftables::schema::{NfListObject, Rule};
use nftables::stmt::Statement;
use nftables::types::NfFamily;

use super::conntrack;
use super::error::NatError;
use super::nft_rule::{self, TABLE};
use super::nft_runner::{NftCommand, NftRunner};
use super::spec::{NatRule, NatRuleSpec};
use super::validate::{validate_comment, validate_spec};
use super::{AddOutcome, DeleteOutcome, ForeignRule, NatBackend, NatListing};

/// Checks that nftables runs and reads JSON, in the calling thread's namespace, and says through what.
/// The agent calls it at start, so a host without nftables gets one clear error instead of a failure on
/// the first NAT request. Changes nothing.
pub fn nft_available() -> Result<String, NatError> {
    let runner = NftRunner::detect();
    runner.run(NftCommand::Check, "checking nftables")?;
    Ok(runner.describe())
}

/// NAT rules in table `inet nsfleet`.
pub struct NftBackend {
    runner: NftRunner,
    /// Holds list-then-change sequences together, so two requests of this agent cannot both decide a rule
    /// is missing and add it twice. Another process editing the table at the same time is not covered.
    serialize: Mutex<()>,
}

impl Default for NftBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl NftBackend {
    /// Through libnftables when it loads, else the `nft` command.
    pub fn new() -> Self {
        Self::with_runner(NftRunner::detect())
    }

    /// Always through this `nft` binary (a path, or a name looked up in PATH).
    pub fn with_program(program: impl Into<OsString>) -> Self {
        Self::with_runner(NftRunner::process(program))
    }

    fn with_runner(runner: NftRunner) -> Self {
        Self {
            runner,
            serialize: Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot have left it inconsistent.
        self.serialize
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The table's rules (ours and anyone else's) and chains, or `None` when the table does not exist.
    fn installed(&self) -> Result<Option<InstalledTable>, NatError> {
        const CONTEXT: &str = "listing table inet nsfleet";
        let listing = match self.runner.run(NftCommand::ListTable, CONTEXT) {
            Ok(listing) => listing,
            Err(NatError::NftFailed { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        parse_listing(&listing)
            .map(Some)
            .map_err(|reason| NatError::NftOutput {
                context: CONTEXT.into(),
                reason,
            })
    }

    fn apply(&self, batch: Batch<'_>, context: &str) -> Result<(), NatError> {
        let payload =
            serde_json::to_string(&batch.to_nftables()).map_err(|e| NatError::NftOutput {
                context: context.into(),
                reason: format!("cannot serialize the batch: {e}"),
            })?;
        self.runner.run(NftCommand::Apply(&payload), context)?;
        Ok(())
    }
}

impl NatBackend for NftBackend {
    fn listing(&self) -> Result<NatListing, NatError> {
        let installed = {
            let _serialized = self.lock();
            self.installed()?
        };
        let Some(installed) = installed else {
            return Ok(NatListing {
                table_missing: true,
                ..NatListing::default()
            });
        };
        let mut listing = NatListing::default();
        for rule in installed.rules {
            match rule.owned {
                Some(OwnedRule {
                    id,
                    comment,
                    decoded: Ok(decoded),
                }) => listing.rules.push(NatRule {
                    id,
                    spec: decoded.spec,
                    comment,
                    packets: decoded.packets,
                    bytes: decoded.bytes,
                }),
                Some(OwnedRule {
                    id,
                    comment,
                    decoded: Err(reason),
                }) => listing.foreign.push(ForeignRule {
                    chain: rule.chain,
                    handle: rule.handle,
                    comment,
                    reason: format!(
                        "carries nsfleet id {id} but is not in nsfleet's shape: {reason}"
                    ),
                }),
                None => listing.foreign.push(ForeignRule {
                    chain: rule.chain,
                    handle: rule.handle,
                    comment: rule.comment.unwrap_or_default(),
                    reason: "no nsfleet id in its comment: nsfleet did not make it".to_string(),
                }),
            }
        }
        Ok(listing)
    }

    fn add_all(&self, rules: &[(NatRuleSpec, String)]) -> Result<Vec<AddOutcome>, NatError> {
        let mut wanted = Vec::with_capacity(rules.len());
        for (spec, comment) in rules {
            let spec = validate_spec(spec)?;
            validate_comment(comment)?;
            let id = spec.id();
            wanted.push((id, spec, comment.as_str()));
        }
        let _serialized = self.lock();
        let installed = self.installed()?;
        // What each wanted rule turned out to be: already there, or new in this transaction.
        let mut outcomes: Vec<AddOutcome> = Vec::with_capacity(wanted.len());
        let mut batch = Batch::new();
        if installed.is_none() {
            batch.add(NfListObject::Table(nft_rule::table()));
        }
        // Only the missing ones: adding a base chain that exists is a no-op, but the kernel then makes
        // the socket's close wait 10-20 ms (measured on 6.18), which every add would pay.
        for chain in nft_rule::base_chains() {
            let present = installed
                .as_ref()
                .is_some_and(|table| table.chains.iter().any(|name| *name == chain.name));
            if !present {
                batch.add(NfListObject::Chain(chain));
            }
        }
        let installed = installed.map(|table| table.rules).unwrap_or_default();
        let mut added: Vec<NatRuleSpec> = Vec::new();
        for (id, spec, comment) in wanted {
            if let Some(existing) = existing_rule(&installed, &id, &spec)? {
                outcomes.push(AddOutcome {
                    rule: existing,
                    changed: false,
                    conntrack_error: None,
                });
                continue;
            }
            // The same rule twice in one call: the second finds the first, as it would one call later.
            if let Some(earlier) = outcomes
                .iter()
                .find(|outcome| outcome.changed && outcome.rule.id == id)
            {
                if earlier.rule.spec != spec {
                    return Err(NatError::Conflict {
                        id,
                        existing: earlier.rule.spec.to_string(),
                    });
                }
                let rule = earlier.rule.clone();
                outcomes.push(AddOutcome {
                    rule,
                    changed: false,
                    conntrack_error: None,
                });
                continue;
            }
            batch.add(NfListObject::Rule(nft_rule::encode_rule(
                &spec, &id, comment,
            )));
            added.push(spec.clone());
            outcomes.push(AddOutcome {
                rule: NatRule {
                    id,
                    spec,
                    comment: comment.to_string(),
                    packets: 0,
                    bytes: 0,
                },
                changed: true,
                conntrack_error: None,
            });
        }
        if added.is_empty() {
            return Ok(outcomes);
        }
        let context = match added.as_slice() {
            [spec] => format!("adding NAT rule {} ({spec})", spec.id()),
            _ => format!("adding {} NAT rules in one transaction", added.len()),
        };
        self.apply(batch, &context)?;
        // Flows conntrack already tracks skip the NAT hooks: a flow that started before this rule (a UDP
        // client retrying from one port, say) would stay untranslated for as long as it keeps retrying.
        if let Err(error) = conntrack::flush_untranslated_matches_of(&added) {
            for outcome in outcomes.iter_mut().filter(|outcome| outcome.changed) {
                outcome.conntrack_error = Some(error.shared());
            }
        }
        Ok(outcomes)
    }

    fn delete_all(
        &self,
        ids: &[String],
        ignore_missing: bool,
    ) -> Result<Vec<DeleteOutcome>, NatError> {
        let _serialized = self.lock();
        let installed = self
            .installed()?
            .map(|table| table.rules)
            .unwrap_or_default();
        let rule_count = installed.len();
        let mut targets: Vec<Option<&InstalledRule>> = Vec::with_capacity(ids.len());
        let mut batch = Batch::new();
        let mut deleted_handles = Vec::new();
        for id in ids {
            let target = installed
                .iter()
                .find(|rule| rule.owned.as_ref().is_some_and(|owned| &owned.id == id))
                .filter(|rule| !deleted_handles.contains(&(rule.chain.as_str(), rule.handle)));
            match target {
                Some(rule) => {
                    deleted_handles.push((rule.chain.as_str(), rule.handle));
                    batch.delete(NfListObject::Rule(Rule {
                        family: NfFamily::INet,
                        table: TABLE.into(),
                        chain: rule.chain.clone().into(),
                        expr: Vec::new().into(),
                        handle: Some(rule.handle),
                        index: None,
                        comment: None,
                    }));
                }
                None if ignore_missing => {}
                None => return Err(NatError::NotFound { id: id.clone() }),
            }
            targets.push(target);
        }
        if deleted_handles.is_empty() {
            return Ok(ids
                .iter()
                .map(|_| DeleteOutcome {
                    changed: false,
                    conntrack_entries_flushed: 0,
                    conntrack_error: None,
                })
                .collect());
        }
        // Only nsfleet's rules belong here, but a hand-added one would vanish with the table: keep it.
        if rule_count == deleted_handles.len() {
            batch.delete(NfListObject::Table(nft_rule::table()));
        }
        let context = match ids {
            [id] => format!("deleting NAT rule {id}"),
            _ => format!(
                "deleting {} NAT rules in one transaction",
                deleted_handles.len()
            ),
        };
        self.apply(batch, &context)?;

        // The rules are gone whatever happens next: a failed flush is the caller's warning, not an error.
        let specs: Vec<&NatRuleSpec> = targets
            .iter()
            .filter_map(|target| match target.and_then(|rule| rule.owned.as_ref()) {
                Some(OwnedRule {
                    decoded: Ok(decoded),
                    ..
                }) => Some(&decoded.spec),
                _ => None,
            })
            .collect();
        let mut flushed = conntrack::flush_entries_of(&specs).map(Vec::into_iter);
        Ok(targets
            .into_iter()
            .zip(ids)
            .map(|(target, id)| {
                let Some(target) = target else {
                    return DeleteOutcome {
                        changed: false,
                        conntrack_entries_flushed: 0,
                        conntrack_error: None,
                    };
                };
                // Taken in the order `specs` was made: one count per decoded rule.
                let (conntrack_entries_flushed, conntrack_error) =
                    match target.owned.as_ref().map(|owned| &owned.decoded) {
                        Some(Ok(_)) => match &mut flushed {
                            Ok(counts) => (counts.next().unwrap_or(0), None),
                            Err(error) => (0, Some(error.shared())),
                        },
                        Some(Err(reason)) => (
                            0,
                            Some(NatError::NftOutput {
                                context: format!(
                                    "reading rule {id} to flush its conntrack entries"
                                ),
                                reason: reason.clone(),
                            }),
                        ),
                        None => (0, None),
                    };
                DeleteOutcome {
                    changed: true,
                    conntrack_entries_flushed,
                    conntrack_error,
                }
            })
            .collect())
    }
}

/// The installed rule nsfleet made that `spec` (with `id`) asks for, or a conflict when the id is taken
/// by a different rule (edited by hand, or an id collision).
fn existing_rule(
    installed: &[InstalledRule],
    id: &str,
    spec: &NatRuleSpec,
) -> Result<Option<NatRule>, NatError> {
    for rule in installed {
        let Some(owned) = &rule.owned else { continue };
        let same_id = owned.id == id;
        match &owned.decoded {
            Ok(decoded) if decoded.spec == *spec => {
                return Ok(Some(NatRule {
                    id: owned.id.clone(),
                    spec: decoded.spec.clone(),
                    comment: owned.comment.clone(),
                    packets: decoded.packets,
                    bytes: decoded.bytes,
                }))
            }
            Ok(decoded) if same_id => {
                return Err(NatError::Conflict {
                    id: id.to_string(),
                    existing: decoded.spec.to_string(),
                })
            }
            Err(reason) if same_id => {
                return Err(NatError::Conflict {
                    id: id.to_string(),
                    existing: format!("a rule nsfleet cannot read ({reason})"),
                })
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Table `inet nsfleet` as listed.
struct InstalledTable {
    rules: Vec<InstalledRule>,
    /// The names of its chains, whatever they are.
    chains: Vec<String>,
}

/// One rule of table `inet nsfleet` as listed.
struct InstalledRule {
    chain: String,
    handle: u32,
    /// The comment as nft shows it, whoever wrote it.
    comment: Option<String>,
    /// Set when the comment carries nsfleet's tag.
    owned: Option<OwnedRule>,
}

struct OwnedRule {
    id: String,
    comment: String,
    /// The rule read back into a spec, or why that failed (someone edited it by hand).
    decoded: Result<Decoded, String>,
}

struct Decoded {
    spec: NatRuleSpec,
    packets: u64,
    bytes: u64,
}

/// Reads the rules out of `nft -j list table` output. Objects are taken one by one, so a rule whose
/// expressions the crate cannot parse is still seen (and counted), just not decoded.
fn parse_listing(listing: &str) -> Result<InstalledTable, String> {
    let document: serde_json::Value =
        serde_json::from_str(listing).map_err(|e| format!("not JSON: {e}"))?;
    let objects = document
        .get("nftables")
        .and_then(serde_json::Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let chains = objects
        .iter()
        .filter_map(|object| object.get("chain")?.get("name")?.as_str())
        .map(str::to_string)
        .collect();
    let mut rules = Vec::new();
    for rule in objects.iter().filter_map(|object| object.get("rule")) {
        let chain = rule
            .get("chain")
            .and_then(serde_json::Value::as_str)
            .ok_or("rule without chain")?;
        let handle = rule
            .get("handle")
            .and_then(serde_json::Value::as_u64)
            .and_then(|handle| u32::try_from(handle).ok())
            .ok_or("rule without handle")?;
        let comment = rule.get("comment").and_then(serde_json::Value::as_str);
        let owned = comment
            .and_then(nft_rule::decode_comment)
            .map(|(id, comment)| OwnedRule {
                id,
                comment,
                decoded: decode_expressions(rule.get("expr")),
            });
        rules.push(InstalledRule {
            chain: chain.to_string(),
            handle,
            comment: comment.map(str::to_string),
            owned,
        });
    }
    Ok(InstalledTable { rules, chains })
}

fn decode_expressions(expressions: Option<&serde_json::Value>) -> Result<Decoded, String> {
    let expressions = expressions.ok_or("rule without expressions")?;
    let statements: Vec<Statement<'static>> = serde_json::from_value(expressions.clone())
        .map_err(|e| format!("unreadable expressions: {e}"))?;
    let (spec, packets, bytes) = nft_rule::decode_rule(&statements)?;
    Ok(Decoded {
        spec,
        packets,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_missing_nft_is_reported_as_such() {
        let backend = NftBackend::with_program("/nonexistent/nft");
        assert!(matches!(backend.list(), Err(NatError::NftMissing { .. })));
    }
}
