//! `producer rules`: the X filtered-stream rules, listed, or made equal to the file's.

use anyhow::{Context, Result};
use producer::rules::RuleSet;
use producer::source::x::{plan, XClient};

use crate::cli::RulesAction;

/// Runs one `rules` action.
pub async fn rules(action: RulesAction) -> Result<()> {
    match action {
        RulesAction::List { x } => {
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?;
            let rules = client.list_rules().await?;
            for r in &rules {
                println!("{}\t{}\t{}", r.id, r.tag.as_deref().unwrap_or("-"), r.value);
            }
            eprintln!("{} rules", rules.len());
        }
        RulesAction::Sync { rules, rule, x } => {
            let wanted = if rule.is_empty() {
                RuleSet::load(&rules)?.x_rules()
            } else {
                producer::rules::from_flags(&rule)
                    .map_err(anyhow::Error::msg)?
                    .x_rules()
            };
            let client = XClient::new(&x.x_api_url, &x.bearer_token)?;
            let existing = client.list_rules().await?;
            let p = plan(&wanted, &existing);
            for (v, t) in &p.add {
                eprintln!("+ {t}\t{v}");
            }
            for r in &p.delete {
                eprintln!(
                    "- {}\t{}\t{}",
                    r.id,
                    r.tag.as_deref().unwrap_or("-"),
                    r.value
                );
            }
            client.apply(&p).await.context("while applying the rules")?;
            eprintln!(
                "rules sync: {} added, {} deleted, {} unchanged",
                p.add.len(),
                p.delete.len(),
                p.keep.len()
            );
        }
    }
    Ok(())
}
