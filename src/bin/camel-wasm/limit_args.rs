//! The knob flags: one `--NAME` per entry of the knob table, each checked by `Limits::set`.

use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

use camel_wasm::Limits;
use camel_wasm::knobs::{KNOBS, Kind, Knob};

/// The knobs given as flags, in table order: `(name, value)`.
#[derive(Debug, Clone, Default)]
pub struct LimitArgs {
    given: Vec<(&'static str, String)>,
}

/// The flag's placeholder: what kind of value it takes.
fn value_name(knob: &Knob) -> &'static str {
    match knob.kind {
        Kind::Seconds => "SECONDS",
        Kind::Bytes { .. } => "BYTES",
        Kind::Count { .. } => "N",
        // Built once per process, for clap's `'static` placeholder.
        Kind::Choice(words) => String::leak(words.join("|")),
        Kind::Text { placeholder } => placeholder,
    }
}

/// The flag's help: the knob's doc, and what the CLI adds to it.
fn help(knob: &Knob) -> String {
    match knob.name {
        "allow-call" => format!("{} (default: none); the CLI provides `log:`, which prints the payload to stderr", knob.doc),
        _ => knob.doc.to_string(),
    }
}

impl Args for LimitArgs {
    fn augment_args(cmd: Command) -> Command {
        KNOBS.iter().fold(cmd, |cmd, knob| {
            cmd.arg(Arg::new(knob.name).long(knob.name).value_name(value_name(knob)).help(help(knob)).num_args(1))
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for LimitArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for knob in KNOBS {
            if let Some(value) = matches.get_one::<String>(knob.name) {
                self.given.retain(|(name, _)| *name != knob.name);
                self.given.push((knob.name, value.clone()));
            }
        }
        Ok(())
    }
}

impl LimitArgs {
    /// The defaults with every flag given set on them.
    pub fn to_limits(&self) -> Result<Limits, String> {
        self.over(Limits::default(), &[])
    }

    /// `base` with every flag given set on it; a flag for a knob in `from_uri` is an error.
    pub fn over(&self, mut limits: Limits, from_uri: &[String]) -> Result<Limits, String> {
        for (name, value) in &self.given {
            if from_uri.iter().any(|k| k == name) {
                return Err(format!("'{name}' is given both in the wasm: URI and as --{name}; give it once"));
            }
            limits.set(name, value).map_err(|e| e.to_string())?;
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::args::Cli;

    #[test]
    fn every_knob_is_a_flag_of_every_command_that_loads_a_guest() {
        let cli = Cli::command();
        for command in ["call", "bench", "serve"] {
            let command = cli.find_subcommand(command).unwrap();
            for knob in KNOBS {
                let flag = command.get_arguments().find(|a| a.get_long() == Some(knob.name));
                assert!(flag.is_some(), "{} has no --{}", command.get_name(), knob.name);
            }
        }
    }

    #[test]
    fn flags_land_on_their_knobs() {
        let matches =
            Cli::command().get_matches_from(["camel-wasm", "call", "x.wasm", "--unhealthy-after", "2", "--timeout", "3"]);
        let (_, call) = matches.subcommand().unwrap();
        let limits = LimitArgs::from_arg_matches(call).unwrap().to_limits().unwrap();
        assert_eq!((limits.unhealthy_after, limits.timeout), (2, std::time::Duration::from_secs(3)));
    }
}
