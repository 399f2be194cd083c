//! The `windlass/1` JSON Schema of every built-in command, assembled from
//! the tools' registries; `docs/schema/windlass-1.json` is its published
//! copy, checked by the test below.

use windlass_output::json::{CommandSchema, document_schema};

/// Every built-in command, with the type of its `data` and its events.
pub(crate) fn commands() -> Vec<CommandSchema> {
    let mut commands = vec![CommandSchema::new::<crate::config_cmd::Shown>(
        "config show",
    )];
    commands.extend(windlass_secrets::cli::json_schemas());
    commands.extend(windlass_wheel::cli::json_schemas());
    commands.extend(windlass_image::cli::json_schemas());
    commands.extend(windlass_deploy::cli::json_schemas());
    commands.extend(windlass_check::cli::json_schemas());
    commands.extend(windlass_release::cli::json_schemas());
    commands.extend(windlass_release::verify::json_schemas());
    commands.push(CommandSchema::new::<crate::completions::Script>(
        "completions",
    ));
    commands.push(CommandSchema::new::<crate::man::Pages>("man"));
    commands
}

/// The schema file's text: pretty JSON with a final newline, the top-level
/// keys in reading order (`$schema` first, `$defs` last).
pub(crate) fn schema_text() -> String {
    #[derive(serde::Serialize)]
    struct Ordered<'a> {
        #[serde(rename = "$schema")]
        schema: &'a serde_json::Value,
        title: &'a serde_json::Value,
        description: &'a serde_json::Value,
        #[serde(rename = "oneOf")]
        one_of: &'a serde_json::Value,
        #[serde(rename = "$defs")]
        defs: &'a serde_json::Value,
    }
    let schema = document_schema(&commands());
    let ordered = Ordered {
        schema: &schema["$schema"],
        title: &schema["title"],
        description: &schema["description"],
        one_of: &schema["oneOf"],
        defs: &schema["$defs"],
    };
    assert_eq!(
        schema.as_object().map(serde_json::Map::len),
        Some(5),
        "a top-level key of the schema is missing from the file"
    );
    let mut text = serde_json::to_string_pretty(&ordered).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `UPDATE_DOCS=1 cargo test -p windlass schema_file_is_generated`
    /// rewrites the file.
    #[test]
    fn schema_file_is_generated() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema/windlass-1.json");
        let generated = super::schema_text();
        windlass_testkit::assert_generated(
            &path,
            &generated,
            "cargo test -p windlass schema_file_is_generated",
        );
    }

    /// Every command of the clap tree (each leaf: `wheel publish`,
    /// `completions`) has a schema, and nothing else does.
    #[test]
    fn every_command_is_listed_once() {
        fn leaves(command: &clap::Command, prefix: &str, out: &mut Vec<String>) {
            let subcommands: Vec<_> = command
                .get_subcommands()
                .filter(|sub| sub.get_name() != "help")
                .collect();
            if subcommands.is_empty() {
                out.push(prefix.to_owned());
            }
            for sub in subcommands {
                let name = if prefix.is_empty() {
                    sub.get_name().to_owned()
                } else {
                    format!("{prefix} {}", sub.get_name())
                };
                leaves(sub, &name, out);
            }
        }
        let mut expected = Vec::new();
        leaves(
            &<crate::Cli as clap::CommandFactory>::command(),
            "",
            &mut expected,
        );
        expected.sort_unstable();
        let mut names: Vec<String> = super::commands()
            .iter()
            .map(|c| c.command().to_owned())
            .collect();
        names.sort_unstable();
        assert_eq!(names, expected);
    }
}
