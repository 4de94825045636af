//! `hlbridge flow validate FILE` and `hlbridge flow schema`: the flow file format.
//!
//! Exit codes: 0 valid, 2 one line per problem on stderr as `FILE:LINE:COL: message`.

use crate::sync_cmd::EXIT_OK;

#[derive(Debug, clap::Args)]
pub struct FlowArgs {
    #[command(subcommand)]
    pub command: FlowCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FlowCommand {
    /// Check a flow file: exit 0, or exit 2 with `FILE:LINE:COL: message` per problem
    /// (`--online`: also custom fields and pipelines of the connected accounts).
    Validate(crate::flow_online::ValidateArgs),
    /// The JSON Schema of flow files, on stdout.
    Schema,
    /// Deploy a flow file (validated first): prints `deployed NAME version N`.
    Deploy(crate::flow_deploy::DeployArgs),
    /// The deployed flows: name, version, enabled, pair, trigger, deployed_at.
    List(crate::flow_deploy::ListArgs),
    /// Let a deployed flow run again.
    Enable(crate::flow_deploy::NameArgs),
    /// Stop a deployed flow from running (its versions and runs are kept).
    Disable(crate::flow_deploy::NameArgs),
    /// Run a flow on one item (--item JSON|@FILE, or --sample) with every write printed
    /// instead of sent; reads are real, nothing is written.
    Test(crate::flow_run::TestArgs),
    /// Poll the trigger once and run every item to completion (--once); one line per
    /// run `run ID STATUS`; exit 0 when all are ok, skipped or waiting, 1 when any failed.
    Run(crate::flow_run::RunArgs),
}

pub async fn run(args: FlowArgs) -> i32 {
    match args.command {
        FlowCommand::Test(a) => crate::flow_run::run_test(a).await,
        FlowCommand::Run(a) => crate::flow_run::run_once(a).await,
        FlowCommand::Deploy(a) => crate::flow_deploy::deploy(a).await,
        FlowCommand::List(a) => crate::flow_deploy::list(a).await,
        FlowCommand::Enable(a) => crate::flow_deploy::set_enabled(a, true).await,
        FlowCommand::Disable(a) => crate::flow_deploy::set_enabled(a, false).await,
        FlowCommand::Validate(a) => crate::flow_online::run(a).await,
        FlowCommand::Schema => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&hlbridge_flows::model::json_schema())
                    .unwrap_or_default()
            );
            EXIT_OK
        }
    }
}
