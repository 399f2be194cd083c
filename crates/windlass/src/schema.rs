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
    commands.push(CommandSchema::new::<crate::completions::Script>(
        "completions",
    ));
    commands.push(CommandSchema::new::<crate::man::Pages>("man"));
    commands
}

/// The schema file's text: pretty JSON with a final newline.
pub(crate) fn schema_text() -> String {
    let schema = document_schema(&commands());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
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
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == generated {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, generated).unwrap();
            return;
        }
        panic!(
            "{} is out of date with the types it is generated from;\n\
             regenerate it with: UPDATE_DOCS=1 cargo test -p windlass schema_file_is_generated",
            path.display()
        );
    }

    /// Every command the binary dispatches to has a schema, and no two
    /// share a name.
    #[test]
    fn every_command_is_listed_once() {
        let names: Vec<&str> = super::commands()
            .iter()
            .map(windlass_output::json::CommandSchema::command)
            .collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for expected in [
            "config show",
            "secrets exec",
            "secrets get",
            "secrets check",
            "secrets mask",
            "wheel build",
            "wheel check",
            "wheel publish",
            "completions",
            "man",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
    }
}
