//! `producer cost`: prints the monthly estimate ([`producer::cost`]) for the flags.

use anyhow::Result;
use producer::cost::{estimate, Inputs, PriceFile};

use crate::cli::CostArgs;

/// Prints the estimate.
pub fn cost(args: CostArgs) -> Result<()> {
    let mut prices = match &args.prices {
        Some(path) => PriceFile::load(path)?,
        None => PriceFile::bundled(),
    };
    for given in &args.overrides {
        prices.override_price(&args.region, given)?;
    }
    let inputs = Inputs {
        posts_per_day: args.posts_per_day,
        post_bytes: args.post_bytes,
        text_chars: args.text_chars,
        backend: args.backend,
        source: args.source,
        memory_mb: args.memory_mb,
        processor_buffer_mb: args.processor_buffer_mb,
        processor_interval_secs: args.processor_interval_secs,
        ms_per_record: args.ms_per_record,
        instance_type: args.instance_type,
        instances: args.instances,
        volume_gb: args.volume_gb,
        retention_days: args.retention_days,
        categories: args.categories,
        failed_percent: args.failed_percent,
    };
    print!("{}", estimate(&prices, &args.region, &inputs)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

    use clap::Parser;

    use crate::cli::{Cli, Command};

    /// `params.default` of serverless.yml, as `name: value` pairs.
    fn stack_params() -> std::collections::HashMap<String, String> {
        let yml = include_str!("../../../serverless/serverless.yml");
        let block = yml.split("\n  default:\n").nth(1).unwrap();
        block
            .lines()
            .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
            .filter(|l| !l.trim_start().starts_with('#') && l.contains(':'))
            .map(|l| {
                let (k, v) = l.trim().split_once(':').unwrap();
                (k.to_string(), v.trim().trim_matches('"').to_string())
            })
            .collect()
    }

    #[test]
    fn the_defaults_are_the_stacks_parameters() {
        let Command::Cost(a) = Cli::parse_from(["producer", "cost"]).command else {
            panic!("not the cost command");
        };
        let p = stack_params();
        assert_eq!(p["searchInstanceType"], a.instance_type);
        assert_eq!(p["searchInstanceCount"], a.instances.to_string());
        assert_eq!(p["searchVolumeGb"], a.volume_gb.to_string());
        assert_eq!(p["retentionDays"], a.retention_days.to_string());
        assert_eq!(
            p["processorBufferMb"].parse::<f64>().unwrap(),
            a.processor_buffer_mb
        );
        assert_eq!(
            p["processorIntervalSecs"],
            a.processor_interval_secs.to_string()
        );
        assert_eq!(
            p["sentimentBackend"],
            format!("{:?}", a.backend).to_lowercase()
        );
        let yml = include_str!("../../../serverless/serverless.yml");
        assert!(yml.contains(&format!("\n  memorySize: {}\n", a.memory_mb)));
        let rules: serde_json::Value =
            serde_json::from_str(include_str!("../../rules/cats-dogs.json")).unwrap();
        assert_eq!(
            rules["rules"].as_array().unwrap().len() as u64,
            a.categories
        );
    }
}
